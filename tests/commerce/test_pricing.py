"""Price models: public GET, the leader's validated PUT (bad input 400 with every bad field, nothing stored),
the TOML file setting, bundle and album prices, and licence terms following the saved tiers."""
from __future__ import annotations

import copy

import pytest

from companion.commerce import pricing

URL = "/api/pricing"


def test_defaults_are_public_and_priced(client):
    r = client.get(URL)
    assert r.status_code == 200
    doc = r.get_json()
    assert doc["source"] == "defaults" and doc["currency"] == "USD"
    assert set(doc["models"]) == {"track", "album", "edition", "live", "licence"}
    for m in doc["models"].values():
        assert float(m["minimum"]) >= 0 and m["name_your_price"] is True
    nc = next(b for b in doc["bundles"] if b["id"] == "all-algorithms-non-commercial")
    assert len(nc["items"]) == 7 and nc["price"] == "63.00"  # 7 x 15.00 less 40 %
    products = {p["licence"]: p for p in doc["licence_products"]}
    assert len(products) == 14 and products["crash:commercial"]["price"] == "150.00"
    assert products["reed:non-commercial"] == {"licence": "reed:non-commercial", "member": "reed", "name": "Reed",
                                                    "tier": "non-commercial", "price": "15.00", "seats": 1,
                                                    "days": 365, "name_your_price": True}


def test_the_leader_saves_and_bad_input_changes_nothing(client, auth, app):
    good = copy.deepcopy(pricing.DEFAULTS)
    good["currency"] = "EUR"
    good["models"]["track"] = {"minimum": 0.5, "suggested": "1.00", "name_your_price": True}
    good["licence_tiers"]["commercial"] = {"minimum": "200.00", "seats": 3, "days": 30}
    r = client.put(URL, json=good, headers=auth("ivory"))
    assert r.status_code == 200, r.get_json()
    saved = client.get(URL).get_json()
    assert saved["source"] == "saved" and saved["currency"] == "EUR" and saved["models"]["track"]["minimum"] == "0.50"

    bad_cases = [
        ({"models": {"track": {"minimum": -1}}}, "models.track.minimum"),
        ({"models": {"track": {"minimum": "abc"}}}, "models.track.minimum"),
        ({"models": {"track": {"minimum": "1.001"}}}, "models.track.minimum"),
        ({"models": {"album": {"minimum": "5.00", "suggested": "4.00"}}}, "models.album.suggested"),
        ({"models": {"ringtone": {"minimum": "1.00"}}}, "models.ringtone"),
        ({"currency": "XYZ"}, "currency"),
        ({"currency": 5}, "currency"),
        ({"bundles": [{"id": "b", "items": ["track:999999", "track:999998"]}]}, "bundles[0].items[0]"),
        ({"bundles": [{"id": "b", "items": ["licence:nobody:commercial", "licence:ivory:commercial"]}]},
         "bundles[0].items[0]"),
        ({"bundles": [{"id": "b", "items": ["licence:ivory:free", "licence:crash:commercial"]}]}, "bundles[0].items[0]"),
        ({"bundles": [{"id": "B!", "items": ["licence:ivory:commercial", "licence:crash:commercial"]}]}, "bundles[0].id"),
        ({"bundles": [{"id": "b", "items": ["licence:ivory:commercial", "licence:crash:commercial"],
                       "discount_percent": 95}]}, "bundles[0].discount_percent"),
        ({"licence_tiers": {"commercial": {"minimum": "10.00", "seats": 0, "days": 30}}}, "licence_tiers.commercial.seats"),
        ({"surprise": 1}, "surprise"),
    ]
    for patch, field in bad_cases:
        doc = copy.deepcopy(good) | patch
        r = client.put(URL, json=doc, headers=auth("ivory"))
        assert r.status_code == 400, (patch, r.status_code)
        body = r.get_json()
        assert body["code"] == "bad_pricing" and field in body["details"]["fields"], (patch, body)
        assert client.get(URL).get_json()["currency"] == "EUR"  # nothing stored
    for raw in (b"not json", b"[1, 2]"):
        r = client.put(URL, data=raw, content_type="application/json", headers=auth("ivory"))
        assert r.status_code == 400
    assert client.get(URL).get_json() == saved
    assert {p["price"] for p in saved["licence_products"] if p["tier"] == "commercial"} == {"200.00"}


def test_only_the_leader_changes_prices(client, auth, app):
    from companion.access.tokens import make_listener_token

    fan = {"Authorization": "Bearer " + make_listener_token(app.extensions["scripthammer"].config.wp_shared_secret, 5)}
    cheap = copy.deepcopy(pricing.DEFAULTS)
    cheap["models"]["album"]["minimum"] = "0.00"
    for headers, status in (({}, 401), (fan, 403), (auth("crash"), 403), (auth("listener"), 403)):
        assert client.put(URL, json=cheap, headers=headers).status_code == status
    assert client.get(URL).get_json()["models"]["album"]["minimum"] == "7.00"


def test_bundle_items_that_exist_in_the_catalog(client, auth, app):
    from companion.catalog import service as catalog

    with app.extensions["scripthammer"].db.session() as s:
        a = catalog.create_track(s, title="One").id
        b = catalog.create_track(s, title="Two").id
    doc = copy.deepcopy(pricing.DEFAULTS)
    doc["bundles"].append({"id": "two-songs", "name": "Two songs", "items": [f"track:{a}", f"track:{b}"],
                           "discount_percent": 50})
    r = client.put(URL, json=doc, headers=auth("ivory"))
    assert r.status_code == 200, r.get_json()
    assert next(x for x in r.get_json()["bundles"] if x["id"] == "two-songs")["price"] == "1.00"


def test_album_price_is_its_tracks_bundle_with_a_floor():
    p = pricing.validate(copy.deepcopy(pricing.DEFAULTS))
    assert pricing.album_price(p, 12) == "8.40"  # 12 x 1.00 less 30 %
    assert pricing.album_price(p, 3) == "7.00"  # never under the album minimum


def test_pricing_file_setting(tmp_path, client, app):
    path = tmp_path / "pricing.toml"
    path.write_text('currency = "GBP"\n[models.track]\nminimum = "0.79"\nsuggested = "0.99"\nname_your_price = true\n')
    app.extensions["scripthammer"].config.pricing_file = str(path)
    doc = client.get(URL).get_json()
    assert doc["source"] == "file" and doc["currency"] == "GBP" and doc["models"]["track"]["minimum"] == "0.79"
    assert doc["models"]["album"]["minimum"] == "7.00"  # what the file leaves out: the defaults


def test_licence_terms_follow_the_saved_tiers(db_kind, client, auth):
    doc = copy.deepcopy(pricing.DEFAULTS)
    doc["licence_tiers"]["non-commercial"] = {"minimum": "9.00", "seats": 2, "days": 7}
    assert client.put(URL, json=doc, headers=auth("ivory")).status_code == 200
    r = client.post("/api/rights/licences", json={"member": "crash", "tier": "non-commercial", "wp_user_id": 3},
                    headers=auth("ivory"))
    lic = client.get(f"/api/rights/licences/{r.get_json()['id']}", headers=auth("ivory")).get_json()["licence"]
    assert lic["seats"] == 2
    import datetime as dt
    issued = dt.datetime.strptime(lic["issued"], "%Y-%m-%dT%H:%M:%SZ")
    assert dt.datetime.strptime(lic["expires"], "%Y-%m-%dT%H:%M:%SZ") - issued == dt.timedelta(days=7)


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "-0.01", "100000.01", True, None, [1]])
def test_odd_amounts_are_refused(amount):
    doc = copy.deepcopy(pricing.DEFAULTS)
    doc["models"]["live"]["minimum"] = amount
    from companion.errors import InvalidInput

    with pytest.raises(InvalidInput) as err:
        pricing.validate(doc)
    assert err.value.code == "bad_pricing" and "models.live.minimum" in err.value.details["fields"]


def test_published_products_start_at_the_models_minimum(client, auth, app):
    """What the companion sends WordPress as a new release product's minimum (POST /products min_price)."""
    from companion.catalog import service as catalog
    from companion.wordpress.service import _min_price

    svc = app.extensions["scripthammer"]
    with svc.db.session() as s:
        album = catalog.create_album(s, title="Blue Dot Matrix")
        for n in range(12):
            catalog.create_track(s, title=f"T{n}", album_id=album.id)
        album_id = album.id
    assert _min_price(svc, "track", 1) == "1.00" and _min_price(svc, "album", album_id) == "8.40"
    doc = copy.deepcopy(pricing.DEFAULTS)
    doc["models"]["track"]["minimum"] = "2.00"
    doc["models"]["track"]["suggested"] = "2.00"
    assert client.put(URL, json=doc, headers=auth("ivory")).status_code == 200
    assert _min_price(svc, "track", 1) == "2.00" and _min_price(svc, "album", album_id) == "16.80"
