"""A premium broadcast's ticket in a real WordPress: an editor schedules the broadcast premium from the
performance post's box, the companion has the plugin make its WooCommerce ticket product (scope
``live:<broadcast id>``, priced from the pricing's ``live`` model) and records it (the live player's "buy a
ticket" link); a fan's paid order reaches the companion through the signed webhook and lets them listen
(``live:<id>``), a refund takes it back. WooCommerce is the real plugin or the labelled stand-in (the
test's id says)."""
from __future__ import annotations

import datetime as dt
import re
import time

import pytest
import requests

from . import shop
from .test_broadcast import _broadcasts, _local, _meta, _performance, _session, _user, berlin  # noqa: F401
from .test_shop_flow import store  # noqa: F401

pytestmark = pytest.mark.slow


def _save_box(s, wordpress, post_id: int, *, start: str, premium: bool) -> requests.Response:
    screen = s.get(f"{wordpress.url}/wp-admin/post.php?post={post_id}&action=edit", timeout=60)
    assert screen.status_code == 200 and 'id="scripthammer-broadcast-premium"' in screen.text
    post_nonce = re.search(r'name="_wpnonce" value="([0-9a-f]+)"', screen.text).group(1)
    own = re.search(r'name="scripthammer_broadcast_nonce" value="([0-9a-f]+)"', screen.text).group(1)
    data = {"action": "editpost", "originalaction": "editpost", "post_ID": str(post_id), "post_type": "sh_performance",
            "_wpnonce": post_nonce, "scripthammer_broadcast_nonce": own, "scripthammer_broadcast_start": start}
    if premium:
        data["scripthammer_broadcast_premium"] = "1"
    r = s.post(f"{wordpress.url}/wp-admin/post.php", data=data, timeout=120)
    assert r.status_code == 200, r.text[-2000:]
    return r


def test_a_premium_broadcast_gets_a_ticket_product_a_paid_order_lets_the_fan_listen_a_refund_does_not(
        store, companion, companion_worker, berlin):  # noqa: F811
    from companion.access.models import Listener
    from companion.access.tokens import make_listener_token
    from companion.commerce.products import product_for
    from companion.live import premium
    from companion.live.models import LiveBroadcast, LiveSession

    import sqlalchemy as sa

    svc = companion.svc
    editor = _user(store, "pt-editor", "editor")
    post = _performance(store, editor, "Ticketed dawn")
    s = _session(store, "pt-editor")
    later = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)).replace(microsecond=0, tzinfo=None)
    _save_box(s, store, post, start=_local(later), premium=True)
    (b,) = _broadcasts(companion, post)
    bid = b["id"]
    assert b["premium"] is True and _meta(store, post, "scripthammer_broadcast") == bid
    screen = s.get(f"{store.url}/wp-admin/post.php?post={post}&action=edit", timeout=60).text
    assert re.search(r'id="scripthammer-broadcast-premium"[^>]*checked', screen)

    # the ticket product, made by the companion's job through the plugin's signed route, once
    def recorded():
        with svc.db.session() as db:
            row = product_for(db, "live", bid)
            return (row.wc_product_id, row.permalink) if row is not None else None

    product, permalink = shop.wait_for(recorded, timeout=90)
    assert store.php(f"return get_post_meta( {product}, '_scripthammer_scope', true );") == f"live:{bid}"
    assert "ticket" in store.php(f"return wc_get_product( {product} )->get_name();")
    live_min = requests.get(f"{companion.url}/api/pricing", timeout=30).json()["models"]["live"]["minimum"]
    assert float(store.php(f"return wc_get_product( {product} )->get_regular_price();")) == float(live_min)
    # rescheduling with the same flag makes no second product
    _save_box(s, store, post, start=_local(later + dt.timedelta(hours=1)), premium=True)
    assert int(store.php(f"""return count( get_posts( array( 'post_type' => 'product', 'post_status' => 'any',
  'numberposts' => -1, 'meta_key' => '_scripthammer_scope', 'meta_value' => 'live:{bid}', 'fields' => 'ids' ) ) );""")) == 1

    # the broadcast goes live (what the start job does): a fan without a ticket is offered the product
    with svc.db.session() as db:
        sess = LiveSession(status="ended", started_by="wordpress")
        db.add(sess)
        db.flush()
        sid = sess.id
        row = db.get(LiveBroadcast, bid)
        row.state, row.session_id = "live", sid
    fan = shop.user(store, "ticket-buyer")

    def token(wp_user_id):
        return {"Authorization": "Bearer " + make_listener_token(companion.config.wp_shared_secret, wp_user_id)}

    st = requests.get(f"{companion.url}/api/live/sessions/{sid}", headers=token(fan), timeout=30).json()
    assert st["access"] == {"allowed": False, "why": "ticket", "buy_url": permalink}
    r = requests.post(f"{companion.url}/api/live/sessions/{sid}/listen", headers=token(fan), timeout=30)
    assert r.status_code == 403 and r.json()["code"] == "premium_ticket_required"

    def ticketed() -> bool:
        with svc.db.session() as db:
            lid = db.scalar(sa.select(Listener.id).where(Listener.wp_user_id == fan))
            return premium.ticketed(db, lid, bid)

    order_id = shop.order(store, fan, product, "5.00")
    shop.deliver_webhooks(store)
    shop.wait_for(ticketed)
    r = requests.post(f"{companion.url}/api/live/sessions/{sid}/listen", headers=token(fan), timeout=30)
    assert r.status_code == 409 and r.json()["code"] == "live_session_not_live"  # past the ticket check
    st = requests.get(f"{companion.url}/api/live/sessions/{sid}", headers=token(fan), timeout=30).json()
    assert st["access"]["allowed"] is True and "sig=" in st["hls"]
    shop.refund(store, order_id)
    shop.deliver_webhooks(store)
    shop.wait_for(lambda: not ticketed())
    r = requests.post(f"{companion.url}/api/live/sessions/{sid}/listen", headers=token(fan), timeout=30)
    assert r.status_code == 403 and r.json()["code"] == "premium_ticket_required"
    assert not store.plugin_problems(), store.plugin_problems()


def test_an_ended_broadcasts_post_plays_its_released_recording(wordpress, companion, companion_worker,
                                                               premium_recording):
    """After the broadcast ends and its mix is released (a published track), the companion points the
    performance post at it (``scripthammer_recording_track``) and the post's live block plays the recording
    instead of the ended live player; a recording still a draft is not linked."""
    from companion.catalog.models import Track
    from companion.catalog.service import create_track
    from companion.live.models import LiveBroadcast, LiveSession

    from .test_broadcast import _iframe

    svc = companion.svc
    editor = _user(wordpress, "rec-editor", "editor")
    post = _performance(wordpress, editor, "Recorded at dawn")
    band = {"Authorization": f"Bearer {companion.tokens['ivory']}"}
    starts = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)).replace(microsecond=0, tzinfo=None)
    r = requests.post(f"{companion.url}/api/live/broadcasts", headers=band, timeout=30,
                      json={"wp_post_id": post, "title": "Recorded at dawn", "starts_at": starts.isoformat() + "Z"})
    assert r.status_code == 201, r.text
    bid = r.json()["id"]
    with svc.db.session() as db:  # it ran and ended; its mix was released as a draft track first
        draft = create_track(db, title="Dawn (draft)", description="", release_state="draft")
        draft_id = draft.id
        sess = LiveSession(status="ended", started_by="wordpress", track_id=draft_id)
        db.add(sess)
        db.flush()
        sid = sess.id
        row = db.get(LiveBroadcast, bid)
        row.state, row.session_id = "ended", sid
    wordpress.php(f"update_post_meta( {post}, 'scripthammer_live_session', {sid} ); return true;")
    # a draft recording: nothing linked, the live block stays the ended live player
    assert requests.get(f"{companion.url}/api/live/broadcasts/{bid}", timeout=30).json()["state"] == "ended"
    st = requests.get(f"{companion.url}/api/live/sessions/{sid}", timeout=30).json()
    assert st["track_id"] == draft_id and st["recording_released"] is False
    time.sleep(3)
    assert _meta(wordpress, post, "scripthammer_recording_track") == 0
    assert _iframe(wordpress, post) == f"{companion.url}/embed/live/{sid}"
    # the released recording (a published premium track): the post plays it
    with svc.db.session() as db:
        db.get(LiveSession, sid).track_id = premium_recording
    with svc.db.session() as db:
        assert db.get(Track, premium_recording).release_state == "premium"
    requests.get(f"{companion.url}/api/live/broadcasts/{bid}", timeout=30)  # the countdown's poll notices
    shop.wait_for(lambda: _meta(wordpress, post, "scripthammer_recording_track") == premium_recording, timeout=90)
    assert _iframe(wordpress, post) == f"{companion.url}/embed/track/{premium_recording}"
    assert 'data-kind="recording"' in requests.get(wordpress.php(f"return get_permalink( {post} );"), timeout=60).text
    st = requests.get(f"{companion.url}/api/live/sessions/{sid}", timeout=30).json()
    assert st["recording_released"] is True
    full = requests.get(f"{companion.url}/api/live/broadcasts/{bid}", headers=band, timeout=30).json()
    assert full["recording_track_id"] == premium_recording
    # only WordPress' managers (the companion's user) may write the meta
    assert wordpress.php(f"return current_user_can( 'edit_post_meta', {post}, 'scripthammer_recording_track' );",
                         user=editor) is False
    assert not wordpress.plugin_problems(), wordpress.plugin_problems()


def test_a_premium_session_started_by_hand_gets_its_post_then_its_ticket_sold_from_it(
        store, companion, companion_worker):  # noqa: F811
    """A premium session started by hand (no scheduled post) gets its performance post first, then its ticket
    product, which links to that post (never a product for post 0); premium without a post is refused
    clearly, and the plugin itself makes no live ticket without a performance post."""
    from companion.commerce.products import product_for
    from companion.live.models import LiveBroadcast, LiveSession
    from companion.wordpress.client import WordPressClient

    from .test_broadcast import _wait

    svc = companion.svc
    band = {"Authorization": f"Bearer {companion.tokens['ivory']}"}

    def rows() -> tuple[int, int]:
        with svc.db.session() as db:
            return db.query(LiveSession).count(), db.query(LiveBroadcast).count()

    before = rows()
    r = requests.post(f"{companion.url}/api/live/sessions", headers=band, timeout=30,
                      json={"premium": True, "performance": False})
    assert r.status_code == 400 and r.json()["code"] == "premium_needs_post", r.text
    assert rows() == before  # nothing started, nothing half-written
    # the plugin's signed products route refuses a live ticket without its performance post
    client = WordPressClient.from_config(svc.config)
    plain = int(store.php("return wp_insert_post( array( 'post_title' => 'Not a performance', "
                          "'post_status' => 'publish' ) );"))
    for post_id in (0, plain):
        r = client.signed(svc.config.wp_shared_secret, "POST", "/products",
                          {"kind": "live", "id": 987654, "title": "Stray", "post_id": post_id})
        assert r.status_code == 400 and r.json()["code"] == "scripthammer_ticket_needs_post", r.text
    assert store.php("return count( get_posts( array( 'post_type' => 'product', 'post_status' => 'any', "
                     "'meta_key' => '_scripthammer_scope', 'meta_value' => 'live:987654', 'fields' => 'ids' ) ) );") == 0

    r = requests.post(f"{companion.url}/api/live/sessions", headers=band, timeout=90,
                      json={"params": {"tempo": 120}, "seed": 3, "premium": True, "title": "Ticketed jam"})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    try:
        def own():
            listed = requests.get(f"{companion.url}/api/live/broadcasts", headers=band, timeout=30).json()
            return next((b for b in listed if b["session_id"] == sid), None)

        row = own()
        assert row["premium"] is True and row["by_hand"] is True and row["wants_post"] is True
        bid = row["id"]
        post = int(_wait(lambda: (own() or {}).get("wp_post_id") or None, 90, "the performance post"))
        assert store.php(f"return get_post_type( {post} );") == "sh_performance"

        def recorded():
            with svc.db.session() as db:
                p = product_for(db, "live", bid)
                return (p.wc_product_id, p.permalink) if p is not None else None

        product, permalink = _wait(recorded, 90, "the ticket product")
        assert store.php(f"return get_post_meta( {product}, '_scripthammer_scope', true );") == f"live:{bid}"
        assert int(store.php(f"return get_post_meta( {product}, '_scripthammer_post', true );")) == post
        assert int(store.php(f"return get_post_meta( {post}, '_scripthammer_product_id', true );")) == product
        link = store.php(f"return get_permalink( {post} );")
        assert link in store.php(f"return get_post_field( 'post_excerpt', {product} );")
        assert "Ticketed jam" in store.php(f"return wc_get_product( {product} )->get_name();")
        # a fan without the ticket is offered it; one product only
        fan = shop.user(store, "hand-ticket-fan")
        from companion.access.tokens import make_listener_token

        tok = {"Authorization": "Bearer " + make_listener_token(companion.config.wp_shared_secret, fan)}
        st = requests.get(f"{companion.url}/api/live/sessions/{sid}", headers=tok, timeout=30).json()
        assert st["access"] == {"allowed": False, "why": "ticket", "buy_url": permalink}
        assert int(store.php(f"""return count( get_posts( array( 'post_type' => 'product', 'post_status' => 'any',
  'numberposts' => -1, 'meta_key' => '_scripthammer_scope', 'meta_value' => 'live:{bid}', 'fields' => 'ids' ) ) );""")) == 1
    finally:
        requests.post(f"{companion.url}/api/live/sessions/{sid}/stop", headers=band, timeout=90)
    assert not store.plugin_problems(), store.plugin_problems()
