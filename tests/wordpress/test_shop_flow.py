"""From a WooCommerce order to what the fan may hear, on a real WordPress: the plugin registers its
webhooks, publishing a release makes its product, a paid order's webhook reaches the companion and
entitles the fan, a refund revokes; the same for a subscription (active, cancelled, expired); forged
and replayed deliveries change nothing; reconciliation through WooCommerce's REST API repairs a missed
webhook. With SCRIPTHAMMER_WP_EXTRA_PLUGINS the real WooCommerce and Subscriptions do it (ids say
``real-plugins``); otherwise the labelled stand-ins send the same documented payloads and signatures."""
from __future__ import annotations

import json

import pytest
import requests
import sqlalchemy as sa

from . import shop
from .conftest import publish_track


@pytest.fixture(scope="module")
def store(wordpress, companion, companion_worker, plugin_kind):
    """WooCommerce and Subscriptions active (the real ones or the stand-ins: the test's id says), admin_init run once (products, webhooks), pretty permalinks
    (WooCommerce's REST API lives under /wp-json/)."""
    wordpress.activate(wordpress.plugins["woocommerce"])
    wordpress.activate(wordpress.plugins["subscriptions"])
    before = wordpress.php("""$old = get_option( 'permalink_structure' ); update_option( 'permalink_structure', '/%postname%/' );
flush_rewrite_rules( false ); update_option( 'woocommerce_subscriptions_accept_manual_renewals', 'yes' ); return $old;""")
    wordpress.admin_session().get(f"{wordpress.url}/wp-admin/", timeout=120)
    yield wordpress
    wordpress.php(f"update_option( 'permalink_structure', {json.dumps(before)} ); flush_rewrite_rules( false ); return true;")
    wordpress.deactivate(wordpress.plugins["subscriptions"], wordpress.plugins["woocommerce"])


@pytest.fixture(scope="module")
def premium(store, companion, premium_recording):
    """The premium track, published by the companion with WooCommerce active (so it has its product)."""
    result = publish_track(companion, premium_recording)
    return {"track_id": premium_recording, "post_id": result["wp_post_id"], "job": {"result": result}}


def _publish(companion, track_id: int) -> dict:
    result = publish_track(companion, track_id)
    return {"wp_post_id": result["wp_post_id"], "job": {"result": result}}


def _listener_id(companion, wp_user_id: int):
    from companion.access.models import Listener

    with companion.svc.db.session() as s:
        return s.scalar(sa.select(Listener.id).where(Listener.wp_user_id == wp_user_id))


def _entitled(companion, wp_user_id: int, track_id: int) -> bool:
    from companion.access import service as access

    with companion.svc.db.session() as s:
        return access.entitled(s, _listener_id(companion, wp_user_id), track_id, None)


def _fan_view(companion, wp_user_id: int, track_id: int) -> dict:
    """The track as this fan's player asks for it (with a listener token like the one WordPress mints)."""
    from companion.access.tokens import make_listener_token

    token = make_listener_token(companion.config.wp_shared_secret, wp_user_id, display_name="Fan")
    r = requests.get(f"{companion.url}/api/tracks/{track_id}", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def _deliveries(companion) -> list[dict]:
    from companion.commerce.models import WebhookDelivery

    with companion.svc.db.session() as s:
        return [{"topic": d.topic, "resource_id": d.resource_id, "state": d.state, "status": (d.payload or {}).get("status")}
                for d in s.scalars(sa.select(WebhookDelivery).order_by(WebhookDelivery.id)).all()]


def test_webhooks_are_registered_once(store, companion):
    topics = {"order.created", "order.updated", "order.deleted", "order.restored", "subscription.created",
              "subscription.updated", "subscription.deleted", "subscription.switched"}
    first = store.php("return \\ScriptHammer\\Webhooks::ensure();")
    again = store.php("return \\ScriptHammer\\Webhooks::ensure();")
    assert set(first) == topics
    assert {t: h["id"] for t, h in first.items()} == {t: h["id"] for t, h in again.items()}
    assert not any(h["changed"] for h in again.values())  # nothing saved the second time
    hooks = store.php("""$out = array();
foreach ( get_option( 'scripthammer_webhooks' ) as $topic => $id ) { $h = new WC_Webhook( $id );
  $out[ $topic ] = array( $h->get_status(), $h->get_delivery_url(), $h->get_secret(), $h->get_api_version() ); }
return $out;""")
    from companion.commerce.webhooks import webhook_secret

    for topic, (status, url, secret, version) in hooks.items():
        assert status == "active" and url == companion.url + "/api/commerce/woocommerce/webhook"
        assert secret == webhook_secret(companion.config) and version == "wp_api_v3"
    # The companion moved: the next admin page after the settings change points them at it.
    status = store.php("""$s = get_option( 'scripthammer_settings' ); $old = $s['companion_url'];
$s['companion_url'] = 'http://127.0.0.1:9'; update_option( 'scripthammer_settings', $s );
$moved = \\ScriptHammer\\Webhooks::ensure(); $url = ( new WC_Webhook( $moved['order.updated']['id'] ) )->get_delivery_url();
$s['companion_url'] = $old; update_option( 'scripthammer_settings', $s ); \\ScriptHammer\\Webhooks::ensure();
return array( $url, $moved['order.updated']['id'] );""")
    assert status == ["http://127.0.0.1:9/api/commerce/woocommerce/webhook", first["order.updated"]["id"]]


def test_publishing_makes_one_product_per_release(store, companion, premium):
    from companion.commerce.products import buy_url, product_for

    product = premium["job"]["result"]["product"]
    assert product and product["product_id"] > 0 and product["created"] in (True, False)
    info = store.php(f"""$p = wc_get_product( {product['product_id']} );
return array( 'name' => $p->get_name(), 'price' => $p->get_regular_price(), 'virtual' => $p->is_virtual(),
  'downloadable' => $p->is_downloadable(), 'status' => $p->get_status(),
  'scope' => get_post_meta( $p->get_id(), '_scripthammer_scope', true ),
  'on_post' => (int) get_post_meta( {premium['post_id']}, '_scripthammer_product_id', true ) );""")
    assert info == {"name": "Paid Orbit", "price": "1.00", "virtual": True, "downloadable": True, "status": "publish",
                    "scope": f"track:{premium['track_id']}", "on_post": product["product_id"]}
    again = _publish(companion, premium["track_id"])["job"]["result"]["product"]
    assert again["product_id"] == product["product_id"] and again["created"] is False
    count = store.php(f"""return count( get_posts( array( 'post_type' => 'product', 'post_status' => 'any', 'fields' => 'ids',
  'posts_per_page' => -1, 'meta_key' => '_scripthammer_scope', 'meta_value' => 'track:{premium['track_id']}' ) ) );""")
    assert count == 1
    with companion.svc.db.session() as s:
        assert product_for(s, "track", premium["track_id"]).wc_product_id == product["product_id"]
        assert buy_url(s, "track", premium["track_id"]) == product["permalink"]
        from companion.catalog.models import Track

        # The catalog's own buy link (what a locked track's player offers) is the product's page.
        assert s.get(Track, premium["track_id"]).buy_url == product["permalink"]
    # An album's product: the same, at the album's minimum, scoped to the album.
    from companion.catalog import service as catalog

    with companion.svc.db.session() as s:
        album_id = catalog.create_album(s, title="Orbit Suite", release_state="premium").id
    r = requests.post(f"{companion.url}/api/albums/{album_id}/publish", timeout=60,
                      headers={"Authorization": f"Bearer {companion.tokens['ivory']}"})
    album = companion.wait_job(r.json()["job_id"])["result"]["product"]
    assert album["created"] is True and album["min_price"] == "7.00"
    assert store.php(f"""$p = wc_get_product( {album['product_id']} );
return array( $p->get_name(), get_post_meta( $p->get_id(), '_scripthammer_scope', true ) );""") == [
        "Orbit Suite (album)", f"album:{album_id}"]
    # The track's page offers it: name your price above the minimum, through the cart.
    page = requests.get(store.php(f"return get_permalink( {premium['post_id']} );"), timeout=60).text
    assert 'class="scripthammer-buy"' in page and f'name="add-to-cart" value="{product["product_id"]}"' in page


def test_a_paid_order_entitles_the_fan_and_a_refund_revokes(store, companion, premium):
    fan = shop.user(store, "orbit-buyer")
    product = premium["job"]["result"]["product"]["product_id"]
    assert not _entitled(companion, fan, premium["track_id"])
    order_id = shop.order(store, fan, product, "3.50")
    shop.deliver_webhooks(store)
    shop.wait_for(lambda: _entitled(companion, fan, premium["track_id"]))
    seen = [d for d in _deliveries(companion) if d["resource_id"] == order_id]
    # order.created and order.updated carry the same body for one state: kept (and applied) once.
    assert seen and all(d["state"] in ("applied", "stale") for d in seen)
    assert len({(d["status"]) for d in seen}) == len(seen)
    assert any(d["status"] in ("processing", "completed") and d["state"] == "applied" for d in seen)
    # The fan's other purchases are not implied: another premium track stays locked.
    assert not _entitled(companion, fan, premium["track_id"] + 1000)
    # What the fan's player gets from the companion: a signed stream of the whole track.
    full = _fan_view(companion, fan, premium["track_id"])
    assert full["access"]["stream"] == "full" and "sig=" in (full.get("hls_url") or ""), full
    assert requests.get(full["hls_url"], timeout=30).status_code == 200
    shop.refund(store, order_id)
    shop.deliver_webhooks(store)
    shop.wait_for(lambda: not _entitled(companion, fan, premium["track_id"]))
    # The next URL: none for the whole track any more, only the preview.
    after = _fan_view(companion, fan, premium["track_id"])
    assert after["access"]["stream"] == "preview" and not after.get("hls_url"), after
    assert any(d["status"] == "refunded" for d in _deliveries(companion) if d["resource_id"] == order_id)


def test_a_subscription_entitles_while_active(store, companion, premium):
    fan = shop.user(store, "orbit-subscriber")
    sub_product = store.php("return (int) get_option( 'scripthammer_subscription_product_id' );")
    sub_id = shop.subscription(store, fan, sub_product)
    shop.deliver_webhooks(store)
    shop.wait_for(lambda: _entitled(companion, fan, premium["track_id"]))  # everything: scope "all"
    shop.set_subscription_status(store, sub_id, "pending-cancel")  # cancelled by the fan, paid up
    shop.deliver_webhooks(store)
    shop.wait_for(lambda: any(d["status"] == "pending-cancel" and d["state"] == "applied"
                              for d in _deliveries(companion) if d["resource_id"] == sub_id))
    assert _entitled(companion, fan, premium["track_id"])
    shop.set_subscription_status(store, sub_id, "cancelled")
    shop.deliver_webhooks(store)
    shop.wait_for(lambda: not _entitled(companion, fan, premium["track_id"]))
    # Another one runs out.
    again = shop.subscription(store, fan, sub_product)
    shop.deliver_webhooks(store)
    shop.wait_for(lambda: _entitled(companion, fan, premium["track_id"]))
    shop.set_subscription_status(store, again, "expired")
    shop.deliver_webhooks(store)
    shop.wait_for(lambda: not _entitled(companion, fan, premium["track_id"]))


def test_forged_and_replayed_deliveries_change_nothing(store, companion, premium):
    """A delivery rebuilt exactly as WooCommerce builds it (its payload, its signature) is a replay of the
    one WooCommerce already sent: refused as a duplicate. A forged one is refused outright."""
    fan = shop.user(store, "orbit-replayer")
    product = premium["job"]["result"]["product"]["product_id"]
    order_id = shop.order(store, fan, product, "2.00")
    shop.deliver_webhooks(store)
    shop.wait_for(lambda: _entitled(companion, fan, premium["track_id"]))
    shop.refund(store, order_id)
    shop.deliver_webhooks(store)
    shop.wait_for(lambda: not _entitled(companion, fan, premium["track_id"]))
    # The last delivery of this order again (what an attacker who captured it would send).
    captured = store.php(f"""$h = new WC_Webhook( get_option( 'scripthammer_webhooks' )['order.updated'] );
$body = trim( wp_json_encode( $h->build_payload( {order_id} ) ) );
return array( 'body' => $body, 'signature' => $h->generate_signature( $body ) );""")
    url = companion.url + "/api/commerce/woocommerce/webhook"
    headers = {"Content-Type": "application/json", "X-WC-Webhook-Topic": "order.updated",
               "X-WC-Webhook-Signature": captured["signature"], "X-WC-Webhook-Delivery-ID": "replayed-1"}
    replay = requests.post(url, data=captured["body"].encode(), headers=headers, timeout=30)
    assert replay.status_code == 200 and replay.json()["status"] == "duplicate", replay.text
    # The same payload as "completed", signed with another secret: refused before parsing.
    paid = json.loads(captured["body"]) | {"status": "completed"}
    body = json.dumps(paid).encode()
    from tests.commerce.payloads import signature

    forged = requests.post(url, data=body, headers=headers | {"X-WC-Webhook-Signature": signature("guess", body)},
                           timeout=30)
    assert forged.status_code == 401 and forged.json()["code"] == "webhook_signature_invalid"
    assert not _entitled(companion, fan, premium["track_id"])


def test_reconciliation_repairs_missed_webhooks(store, companion, premium):
    """Webhooks paused (the companion was down, say): the REST API tells the companion what happened."""
    from companion.commerce import reconcile
    from companion.commerce.woo import WooCommerce

    ck, cs = shop.api_key(store)
    client = WooCommerce(store.url, ck, cs)
    store.php("""foreach ( get_option( 'scripthammer_webhooks' ) as $id ) { $h = new WC_Webhook( $id ); $h->set_status( 'paused' ); $h->save(); }
return true;""")
    try:
        fan = shop.user(store, "orbit-missed")
        product = premium["job"]["result"]["product"]["product_id"]
        order_id = shop.order(store, fan, product, "4.00")
        assert shop.deliver_webhooks(store) == 0 and not _entitled(companion, fan, premium["track_id"])
        result = reconcile.reconcile(companion.svc, full=True, client=client)
        assert result["orders"] >= 1 and result["changed"] >= 1
        assert _entitled(companion, fan, premium["track_id"])
        shop.refund(store, order_id)
        result = reconcile.reconcile(companion.svc, full=True, client=client)
        assert not _entitled(companion, fan, premium["track_id"])
        again = reconcile.reconcile(companion.svc, full=True, client=client)
        assert again["changed"] == 0  # nothing left to repair
        bad = WooCommerce(store.url, ck, "cs_wrong")
        from companion.commerce.woo import WooCommerceUnavailable

        with pytest.raises(WooCommerceUnavailable) as refused:
            reconcile.reconcile(companion.svc, full=True, client=bad)
        assert refused.value.code == "woocommerce_auth_failed"
    finally:
        store.php("\\ScriptHammer\\Webhooks::ensure( true ); return true;")


def _player(frame, timeout=90000) -> dict:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        frame.wait_for_function("() => window.ScriptHammer && ScriptHammer.players.length && "
                                "ScriptHammer.players[0].getState().ready", timeout=timeout)
    except PlaywrightTimeout:  # say what the player showed and what the page logged, not only "timeout"
        shown = frame.evaluate("() => ({url: location.href, text: document.body ? document.body.innerText : '',"
                               " players: window.ScriptHammer ? ScriptHammer.players.length : null})")
        logged = getattr(frame.page, "_sh_console", [])
        raise AssertionError(f"the player was not ready in {timeout} ms: {shown}; console: {logged[-20:]}") from None
    return frame.evaluate("ScriptHammer.players[0].getState()")


def _downloads(frame) -> list[str]:
    """The formats the player's download menu offers as links (locked ones are not links)."""
    frame.click(".shp-dl-toggle")
    return frame.eval_on_selector_all(".shp-downloads a.shp-dl", "els => els.map(a => a.dataset.format)")


def _open(context, url: str):
    page = context.new_page()
    seen: list[dict] = []
    page.on("request", lambda r: seen.append({"url": r.url, "referer": r.headers.get("referer", "")}))
    page._sh_console = []  # what the pages logged, for a failure's message
    page.on("console", lambda m: page._sh_console.append(f"{m.type}: {m.text}"[:300]))
    page.on("requestfailed", lambda r: page._sh_console.append(f"failed: {r.url} {r.failure}"[:300]))
    page.on("response", lambda r: r.status >= 400 and page._sh_console.append(f"{r.status}: {r.url}"[:300]))
    page.goto(url)
    page.wait_for_selector("figure.scripthammer-player iframe")
    src = page.get_attribute("figure.scripthammer-player iframe", "src")
    frame = page.frame_locator("figure.scripthammer-player iframe")  # noqa: F841 - waits for it
    page.wait_for_function("() => document.querySelector('figure.scripthammer-player iframe').contentWindow")
    embed = next(f for f in page.frames if "/embed/track/" in f.url)
    return page, embed, src, seen


def test_the_premium_track_page_in_chromium(store, companion, premium, browser, artifacts):
    """A premium track's page, as anonymous, as a subscriber, and after the cancellation: what plays
    and what the download menu offers. The subscriber's listener token rides in the iframe's fragment,
    travels in no URL or Referer, and the player (companion/access's) plays the whole track."""
    from companion.access.tokens import read_listener_token

    from .conftest import SECRET

    link = store.php(f"return get_permalink( {premium['post_id']} );")
    embed_url = f"{companion.url}/embed/track/{premium['track_id']}"
    # Anonymous: the preview, no format to download, no token anywhere.
    anon = browser.new_context()
    page, frame, src, seen = _open(anon, link)
    assert src == embed_url
    state = _player(frame)
    assert state["mode"] == "preview", state
    assert frame.evaluate("ScriptHammer.players[0].audio.duration") < 5  # the 4 s preview of 12 s
    assert _downloads(frame) == []
    assert not [r for r in seen if "shmls." in r["url"] or "shmls." in r["referer"]]
    page.screenshot(path=str(artifacts / "premium-anonymous.png"), full_page=True)
    anon.close()

    # A subscriber: a real subscription, its webhook, the companion's entitlement.
    fan = shop.user(store, "chromium-fan", "customer")
    sub = shop.subscription(store, fan, store.php("return (int) get_option( 'scripthammer_subscription_product_id' );"))
    shop.deliver_webhooks(store)
    shop.wait_for(lambda: _entitled(companion, fan, premium["track_id"]))
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(f"{store.url}/wp-login.php")
    page.fill("#user_login", "chromium-fan")
    page.fill("#user_pass", "chromium-fan-pass-1")
    page.click("#wp-submit")
    page.wait_for_url(lambda url: "wp-login.php" not in url)  # signed in (the profile, or My Account)
    assert any(c["name"].startswith("wordpress_logged_in_") for c in ctx.cookies())
    page.close()
    page, frame, src, seen = _open(ctx, link)
    assert src.startswith(embed_url + "#shl=shmls.")
    token = src.split("#shl=", 1)[1]
    assert read_listener_token(SECRET, token)["wp_user_id"] == fan
    state = _player(frame)
    assert not [r for r in seen if token in r["url"] or token in r["referer"]]  # the fragment never travels
    # The player took the token out of its address and asked for the fan's view: the whole track.
    assert "shl=" not in frame.url
    assert state["mode"] != "preview", state
    frame.evaluate("ScriptHammer.players[0].seek(6)")
    frame.click(".shp-play")
    frame.wait_for_function("() => ScriptHammer.players[0].currentTime > 6.5", timeout=60000)
    assert frame.evaluate("ScriptHammer.players[0].duration") > 11
    formats = _downloads(frame)
    assert {"mp3-320", "flac"} <= set(formats), formats
    page.screenshot(path=str(artifacts / "premium-subscriber.png"), full_page=True)
    page.close()

    # Cancelled: revoked at once; the next page plays the preview and offers no format.
    shop.set_subscription_status(store, sub, "cancelled")
    shop.deliver_webhooks(store)
    shop.wait_for(lambda: not _entitled(companion, fan, premium["track_id"]))
    page, frame, src, _ = _open(ctx, link)
    assert "#shl=shmls." in src  # still signed in
    state = _player(frame)
    assert state["mode"] == "preview", state
    assert frame.evaluate("ScriptHammer.players[0].audio.duration") < 5
    assert _downloads(frame) == []
    page.screenshot(path=str(artifacts / "premium-after-cancellation.png"), full_page=True)
    ctx.close()


def _attributed(companion, order_id: int) -> list[tuple]:
    from companion.analytics.models import AttributedOutcome

    with companion.svc.db.session() as s:
        return [(o.kind, o.track_id, o.amount_cents, o.currency, o.revoked_at is None)
                for o in s.scalars(sa.select(AttributedOutcome).where(AttributedOutcome.wc_order_id == order_id)
                                   .order_by(AttributedOutcome.line_id))]


def _checkout_cart(store, browser: requests.Session, fan: int) -> int:
    """The stand-in's checkout of this browser's cart (its cart cookie), paid."""
    key = browser.cookies.get("sh_standin_cart")
    assert key, "no cart"
    return int(store.php(f"""$_COOKIE['sh_standin_cart'] = {json.dumps(key)}; wc_load_cart();
$o = scripthammer_standin_checkout( {fan} ); $o->payment_complete(); return $o->get_id();"""))


def test_a_tip_and_a_purchase_from_the_players_links_are_attributed_to_the_play(store, companion, premium, plugin_kind):
    """standin: the player's tip jar posts sh_play with the add-to-cart; its buy link opens the product page
    with sh_play (remembered in a cookie until the fan adds it to the cart). Both reach the order lines and
    the webhook, and the companion counts one tip and one purchase on the played track's day; a refund
    takes them out; a forged attribution in another order counts nothing and the order goes through."""
    import time

    from companion.analytics import ingest

    if plugin_kind != "standin-plugins":
        pytest.skip("drives the stand-in's checkout of a browser's cart")
    tid = premium["track_id"]
    session = "wp-player-session-01"
    r = requests.post(f"{companion.url}/api/beacons", timeout=30, headers={"Content-Type": "text/plain"},
                      data=json.dumps({"session": session, "events": [
                          {"type": "play", "pos": 0, "track": tid, "t": int(time.time() * 1000)}]}))
    assert r.status_code == 202, r.text
    ingest.drain(companion.svc)
    tip = store.php("return (int) get_option( 'scripthammer_tip_product_id' );")
    product = premium["job"]["result"]["product"]["product_id"]
    fan = shop.user(store, "player-tipper")
    browser = requests.Session()
    # the tip jar's form: add-to-cart with the amount and the attribution
    browser.post(store.php(f"return get_permalink( {tip} );"), timeout=60, data={
        "add-to-cart": tip, "quantity": 1, "scripthammer_tip_amount": "4", "sh_play": f"{session}.{tid}"})
    # the buy link: the product page with sh_play, then its add-to-cart form (no sh_play in the form)
    page = store.php(f"return get_permalink( {product} );")
    assert browser.get(page, params={"sh_play": f"{session}.{tid}"}, timeout=60).status_code == 200
    assert browser.cookies.get("scripthammer_play") == f"{session}.{tid}"
    browser.post(page, data={"add-to-cart": product, "quantity": 1, "scripthammer_tip_amount": "2.50"}, timeout=60)
    assert browser.cookies.get("scripthammer_play") is None  # used once: a later add-to-cart is not credited
    order_id = _checkout_cart(store, browser, fan)
    doc = store.php(f"return scripthammer_standin_order_payload( {order_id} );")
    assert sorted((i["product_id"], i.get("scripthammer_play"), i.get("scripthammer_kind")) for i in doc["line_items"]) == \
        sorted([(tip, f"{session}.{tid}", "tip"), (product, f"{session}.{tid}", "purchase")])
    assert all("_scripthammer_play" not in json.dumps(i["meta_data"]) for i in doc["line_items"])
    shop.deliver_webhooks(store)
    shop.wait_for(lambda: len(_attributed(companion, order_id)) == 2)
    assert sorted(_attributed(companion, order_id)) == [("purchase", tid, 250, "USD", True), ("tip", tid, 400, "USD", True)]
    today = time.strftime("%Y-%m-%d", time.gmtime())
    figures = requests.get(f"{companion.url}/api/analytics/tracks/{tid}/daily", params={"from": today, "to": today},
                           headers={"Authorization": f"Bearer {companion.tokens['crash']}"}, timeout=30).json()["days"][0]
    assert (figures["tips"], figures["tips_amount"], figures["purchases"], figures["purchases_amount"]) == (
        1, {"USD": 4.0}, 1, {"USD": 2.5})
    shop.refund(store, order_id)
    shop.deliver_webhooks(store)
    shop.wait_for(lambda: not any(live for *_, live in _attributed(companion, order_id)))

    # forged: a track this session never played, in another fan's order (the order still goes through)
    other = requests.Session()
    other.post(store.php(f"return get_permalink( {tip} );"), timeout=60, data={
        "add-to-cart": tip, "quantity": 1, "scripthammer_tip_amount": "3", "sh_play": f"{session}.{tid + 1000}"})
    other.post(store.php(f"return get_permalink( {tip} );"), timeout=60, data={
        "add-to-cart": tip, "quantity": 2, "scripthammer_tip_amount": "5", "sh_play": "<b>not a token</b>"})
    forged = _checkout_cart(store, other, shop.user(store, "forger"))
    doc = store.php(f"return scripthammer_standin_order_payload( {forged} );")
    assert [i.get("scripthammer_play") for i in doc["line_items"]] == [f"{session}.{tid + 1000}", None]
    shop.deliver_webhooks(store)
    shop.wait_for(lambda: any(d["resource_id"] == forged and d["state"] == "applied" for d in _deliveries(companion)))
    assert _attributed(companion, forged) == []
