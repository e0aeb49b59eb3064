"""Tips and purchases attributed to a play: a fan plays a track in the player (beacons through the stream),
then tips or buys through the player's link (``sh_play=<session>.<track>``, which the plugin keeps onto the
order line as ``scripthammer_play``); the order's signed webhook makes one attributed outcome per paid line,
on the track's day. A duplicated webhook counts it once, a refund takes it out, and a forged attribution
(a track the session never played, an unreleased or unknown track, garbage) counts nothing while the order
still goes through."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import time

import sqlalchemy as sa

from companion.analytics import ingest, rollups
from companion.analytics.models import AttributedOutcome, PlaybackEvent
from companion.commerce.models import WebhookDelivery

from . import payloads


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)


def _play(client, session: str, track_id: int, n: int = 7) -> None:
    now = int(time.time() * 1000)
    evs = [{"type": "play", "pos": 0, "track": track_id, "t": now},
           {"type": "tip_click", "pos": 12, "track": track_id, "t": now, "data": {"amount": 5, "currency": "USD"}}]
    r = client.post("/api/beacons", data=json.dumps({"session": session, "events": evs}), content_type="text/plain",
                    environ_base={"REMOTE_ADDR": f"198.51.100.{n}", "HTTP_USER_AGENT": "Fan"})
    assert r.status_code == 202, r.get_json()


def _track(client, auth, title: str, state: str = "public", album_id: int | None = None) -> int:
    body = {"title": title, "release_state": state}
    if album_id is not None:
        body["album_id"] = album_id
    r = client.post("/api/tracks", json=body, headers=auth("ivory"))
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def _tip_line(token, total="5.00", **extra) -> dict:
    """A line of the tip product as the plugin annotates it (no scope: a tip sells nothing)."""
    item = payloads.line_item(77, None, total=total, name="Tip")
    if token is not None:
        item["scripthammer_play"] = token
    item["scripthammer_kind"] = "tip"
    item.update(extra)
    return item


def _buy_line(token, scope, total="7.00") -> dict:
    item = payloads.line_item(501, scope, total=total)
    item["scripthammer_play"] = token
    item["scripthammer_kind"] = "purchase"
    return item


def _order(order_id, status, items, *, at=None, customer=42):
    at = at or _now()
    return payloads.order(order_id, status, items, customer_id=customer, modified=at)


def _day(client, auth, track_id) -> dict:
    today = _now().date()
    r = client.get(f"/api/analytics/tracks/{track_id}/daily?from={today}&to={today}", headers=auth("crash"))
    assert r.status_code == 200, r.get_json()
    return r.get_json()["days"][0]


def _outcomes(svc) -> list[tuple]:
    with svc.db.session() as s:
        return [(o.wc_order_id, o.kind, o.track_id, o.amount_cents, o.currency, o.revoked_at is None)
                for o in s.scalars(sa.select(AttributedOutcome).order_by(AttributedOutcome.id))]


def test_a_play_then_a_tip_through_the_player_is_one_attributed_tip_on_that_day(
        db_kind, app, client, auth, deliver, run_jobs, svc, rights):
    tid = _track(client, auth, "Tipped")
    _play(client, "sess-tipper-01", tid)
    ingest.drain(svc)
    before = _day(client, auth, tid)
    assert before["tip_clicks"] == 1 and before["tips"] == 0 and before["tips_amount"] == {}

    doc = _order(301, "processing", [_tip_line(f"sess-tipper-01.{tid}", "5.50")], customer=0)  # a guest tips
    r = deliver(doc)
    assert r.status_code == 202, r.get_json()
    assert deliver(doc, delivery="again").get_json()["status"] == "duplicate"
    run_jobs()
    # the same order, completed later: a new body, applied, and still one tip
    assert deliver(_order(301, "completed", doc["line_items"], at=_now() + dt.timedelta(seconds=5),
                          customer=0)).status_code == 202
    run_jobs()
    day = _day(client, auth, tid)
    assert (day["tip_clicks"], day["tips"], day["tips_amount"], day["purchases"]) == (1, 1, {"USD": 5.5}, 0)
    assert _outcomes(svc) == [(301, "tip", tid, 550, "USD", True)]
    # rolled, the day says the same (from the rollups and the outcomes' own rows)
    assert rollups.roll(svc.db, [_now().date()])[0]["events"] == 2
    assert _day(client, auth, tid) == day

    # refunded: the tip leaves the figures; the CSV says so too
    deliver(_order(301, "refunded", doc["line_items"], at=_now() + dt.timedelta(seconds=10), customer=0))
    run_jobs()
    day = _day(client, auth, tid)
    assert (day["tips"], day["tips_amount"], day["tip_clicks"]) == (0, {}, 1)
    assert _outcomes(svc) == [(301, "tip", tid, 550, "USD", False)]
    # a late "completed" older than the refund changes nothing
    deliver(_order(301, "completed", doc["line_items"], at=_now() + dt.timedelta(seconds=7), customer=0))
    run_jobs()
    assert _day(client, auth, tid)["tips"] == 0


def test_purchases_from_the_buy_link_count_per_track_album_and_in_the_csv(
        app, client, auth, deliver, run_jobs, svc, rights):
    album = client.post("/api/albums", json={"title": "Loops", "release_state": "public"}, headers=auth("ivory"))
    assert album.status_code == 201, album.get_json()
    aid = album.get_json()["id"]
    t1, t2 = _track(client, auth, "One", album_id=aid), _track(client, auth, "Two", album_id=aid)
    _play(client, "sess-buyer-001", t1, n=8)
    _play(client, "sess-buyer-002", t2, n=9)
    ingest.drain(svc)
    deliver(_order(401, "completed", [_buy_line(f"sess-buyer-001.{t1}", f"track:{t1}", "7.00"),
                                      _tip_line(f"sess-buyer-001.{t1}", "3.00")]))
    deliver(_order(402, "completed", [_buy_line(f"sess-buyer-002.{t2}", f"album:{aid}", "12.00")], customer=43))
    run_jobs()
    # the buyers got what they paid for, as always
    assert rights(42)[f"purchase:wc-order:401:track:{t1}"][0] is True
    assert rights(43)[f"purchase:wc-order:402:album:{aid}"][0] is True
    d1 = _day(client, auth, t1)
    assert (d1["purchases"], d1["purchases_amount"], d1["tips"], d1["tips_amount"]) == (1, {"USD": 7.0}, 1, {"USD": 3.0})
    with svc.db.session() as s:
        assert s.scalar(sa.select(AttributedOutcome.album_id).where(AttributedOutcome.wc_order_id == 402)) == aid
    today = _now().date()
    r = client.get(f"/api/analytics/albums/{aid}/daily?from={today}&to={today}", headers=auth("crash"))
    day = r.get_json()["days"][0]
    assert (day["purchases"], day["purchases_amount"], day["tips"]) == (2, {"USD": 19.0}, 1)
    r = client.get(f"/api/analytics/albums/{aid}/daily.csv?from={today}&to={today}", headers=auth("crash"))
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert (rows[0]["purchases"], rows[0]["purchases_amount"], rows[0]["tips"], rows[0]["tips_amount"],
            rows[0]["tip_clicks"]) == ("2", "USD=19.00", "1", "USD=3.00", "2")
    summary = client.get(f"/api/analytics/summary?from={today}&to={today}", headers=auth("crash")).get_json()
    by_id = {t["id"]: t for t in summary["tracks"]}
    assert (by_id[t2]["purchases"], by_id[t2]["purchases_amount"]) == (1, {"USD": 12.0})
    # a fan cannot read the figures
    assert client.get(f"/api/analytics/tracks/{t1}/daily", headers=auth("listener")).status_code == 403


def test_forged_attributions_count_nothing_and_the_order_still_goes_through(
        db_kind, client, auth, deliver, run_jobs, svc, rights):
    played = _track(client, auth, "Played")
    other = _track(client, auth, "Never played")
    withdrawn = _track(client, auth, "Withdrawn")
    _play(client, "sess-honest-01", played, n=10)
    _play(client, "sess-honest-02", withdrawn, n=11)
    ingest.drain(svc)
    r = client.patch(f"/api/tracks/{withdrawn}", json={"release_state": "unreleased"}, headers=auth("ivory"))
    assert r.status_code == 200, r.get_json()
    lines = [_buy_line(f"sess-honest-01.{other}", f"track:{other}"),   # a track this session never played
             _tip_line(f"sess-made-up-99.{played}"),                 # a session that never played it
             _tip_line(f"sess-honest-02.{withdrawn}"),               # a track no longer released
             _tip_line("sess-honest-01.999999"),                     # no such track
             _tip_line("<script>alert(1)</script>"),                 # garbage
             _tip_line(f"sess-honest-01.{played}", total="-4.00"),   # a negative amount
             _tip_line({"session": "sess-honest-01"}),               # not even a string
             _tip_line(f"sess-honest-01.{played}.{played}")]
    r = deliver(_order(501, "completed", lines))
    assert r.status_code == 202, r.get_json()
    run_jobs()
    assert rights(42)[f"purchase:wc-order:501:track:{other}"][0] is True  # the order went through
    with svc.db.session() as s:
        outcome = s.scalar(sa.select(WebhookDelivery.outcome).where(WebhookDelivery.resource_id == 501))
    assert sorted(i["reason"] for i in outcome["attribution"]["ignored"]) == [
        "not_played", "not_played", "not_released", "unknown_track"]  # the rest is not even an attribution
    assert _outcomes(svc) == []
    for tid in (played, other):
        day = _day(client, auth, tid)
        assert (day["tips"], day["purchases"], day["tips_amount"], day["purchases_amount"]) == (0, 0, {}, {})
    # a play made long after the order was made attributes nothing either
    old = _now() - dt.timedelta(days=2)
    deliver(_order(502, "completed", [_tip_line(f"sess-honest-01.{played}")], at=old))
    run_jobs()
    assert _outcomes(svc) == []


def test_a_deleted_order_and_a_removed_line_revoke_and_a_paid_again_order_counts_again(
        client, auth, deliver, run_jobs, svc):
    tid = _track(client, auth, "Back and forth")
    _play(client, "sess-twice-001", tid, n=12)
    ingest.drain(svc)
    t0 = _now()
    tip, buy = _tip_line(f"sess-twice-001.{tid}", "2.00"), _buy_line(f"sess-twice-001.{tid}", f"track:{tid}", "7.00")
    deliver(_order(601, "completed", [tip, buy], at=t0))
    run_jobs()
    assert (_day(client, auth, tid)["tips"], _day(client, auth, tid)["purchases"]) == (1, 1)
    deliver(_order(601, "completed", [buy], at=t0 + dt.timedelta(seconds=1)))  # the shop removed the tip line
    run_jobs()
    assert (_day(client, auth, tid)["tips"], _day(client, auth, tid)["purchases"]) == (0, 1)
    deliver(_order(601, "cancelled", [buy], at=t0 + dt.timedelta(seconds=2)))
    run_jobs()
    assert _day(client, auth, tid)["purchases"] == 0
    deliver(_order(601, "processing", [buy], at=t0 + dt.timedelta(seconds=3)))  # paid again
    run_jobs()
    assert _day(client, auth, tid)["purchases"] == 1
    # the play's events retired (analytics retention), then the order updated: still counted
    with svc.db.session() as s:
        s.execute(sa.delete(PlaybackEvent).where(PlaybackEvent.session_id == "sess-twice-001"))
    deliver(_order(601, "completed", [buy], at=t0 + dt.timedelta(seconds=4)))
    run_jobs()
    assert _day(client, auth, tid)["purchases"] == 1
    deliver({"id": 601}, "order.deleted")
    run_jobs()
    assert _day(client, auth, tid)["purchases"] == 0
    assert len(_outcomes(svc)) == 2  # one row per line, ever


def test_ab_outcomes_tip_and_purchase_are_attributed_tips_and_purchases_not_clicks(client, auth, deliver, run_jobs, svc):
    tracks = {"tip": _track(client, auth, "Two mixes"), "purchase": _track(client, auth, "Two masters")}
    tests = {}
    for metric, tid in tracks.items():  # one running test per track
        r = client.post("/api/ab-tests", headers=auth("ivory"), json={
            "track_id": tid, "name": f"Which mix gets {metric}s?", "metric": metric,
            "variations": [{"key": "a"}, {"key": "b"}]})
        assert r.status_code == 201, r.get_json()
        tests[metric] = r.get_json()["id"]
    units = [f"ab-unit-{i:04d}" for i in range(6)]
    now = int(time.time() * 1000)
    for n, unit in enumerate(units):
        events = []
        for metric, tid in tracks.items():
            var = client.get(f"/api/ab-tests/{tests[metric]}/assignment?unit={unit}").get_json()["variation"]
            events += [{"type": "exposure", "track": tid, "t": now, "data": {"test": tests[metric], "variation": var}},
                       {"type": "play", "track": tid, "pos": 0.0, "t": now},
                       {"type": "tip_click", "track": tid, "pos": 3.0, "t": now}]  # everyone clicks the tip jar
        r = client.post("/api/beacons", data=json.dumps({"session": unit, "seq": 0, "events": events}),
                        content_type="text/plain", environ_base={"REMOTE_ADDR": f"203.0.113.{20 + n}"})
        assert r.status_code == 202, r.get_json()
    ingest.drain(svc)

    def converted(metric) -> dict:
        look = client.get(f"/api/ab-tests/{tests[metric]}", headers=auth("crash")).get_json()
        return {a["key"]: (a["exposed"], a["converted"]) for a in look["results"]["arms"]}

    assert sum(c for _, c in converted("tip").values()) == 0  # clicks alone are not tips
    tip_line = _tip_line(f"{units[0]}.{tracks['tip']}", "2.00")
    deliver(_order(701, "completed", [tip_line], customer=0))
    deliver(_order(702, "completed", [_buy_line(f"{units[1]}.{tracks['purchase']}", f"track:{tracks['purchase']}")],
                   customer=44))
    run_jobs()
    tips, purchases = converted("tip"), converted("purchase")
    assert sum(e for e, _ in tips.values()) == 6 and sum(c for _, c in tips.values()) == 1
    assert sum(c for _, c in purchases.values()) == 1
    deliver(_order(701, "refunded", [tip_line], at=_now() + dt.timedelta(seconds=3), customer=0))
    run_jobs()
    assert sum(c for _, c in converted("tip").values()) == 0
