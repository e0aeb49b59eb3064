"""Numbered editions and bundles sold through WooCommerce, on a real WordPress: the plugin makes one
product per edition series the companion offers (price from the companion's edition model, stock = the
editions left, sold out when all are issued) and one per bundle of the pricing; a fan's paid order (its
line items annotated with ``scripthammer_edition`` / ``scripthammer_bundle_items``) reaches the companion
through WooCommerce's signed webhook and makes the fan the owner of edition n of N on the ownership log
(with a licence in the same order); a refund takes the edition back and the stock follows; an order
beyond the count is refused in the cart with the band's words and, forced through by the shop, issues
nothing. With SCRIPTHAMMER_WP_EXTRA_PLUGINS the real WooCommerce does it (ids say ``real-plugins``);
otherwise the labelled stand-in sends the same documented payload and signature."""
from __future__ import annotations

import copy
import json
import re

import requests
import sqlalchemy as sa

from . import shop

EDITIONS = """$out = array();
foreach ( get_posts( array( 'post_type' => 'product', 'post_status' => 'any', 'posts_per_page' => -1, 'fields' => 'ids',
  'meta_key' => '_scripthammer_edition' ) ) as $id ) { $p = wc_get_product( $id );
  $out[ get_post_meta( $id, '_scripthammer_edition', true ) ] = array( 'id' => $id, 'name' => $p->get_name(),
    'price' => $p->get_regular_price(), 'virtual' => $p->is_virtual(), 'status' => $p->get_status(),
    'kind' => get_post_meta( $id, '_scripthammer_product', true ), 'min' => get_post_meta( $id, '_scripthammer_min_price', true ),
    'manage_stock' => $p->managing_stock(), 'stock' => $p->get_stock_quantity(), 'in_stock' => $p->is_in_stock() ); }
return $out;"""

BUNDLES = """$out = array();
foreach ( get_posts( array( 'post_type' => 'product', 'post_status' => 'any', 'posts_per_page' => -1, 'fields' => 'ids',
  'meta_key' => '_scripthammer_bundle' ) ) as $id ) { $p = wc_get_product( $id );
  $out[ get_post_meta( $id, '_scripthammer_bundle', true ) ] = array( 'id' => $id, 'name' => $p->get_name(),
    'price' => $p->get_regular_price(), 'status' => $p->get_status(), 'kind' => get_post_meta( $id, '_scripthammer_product', true ),
    'items' => json_decode( get_post_meta( $id, '_scripthammer_bundle_items', true ), true ) ); }
return $out;"""

SYNC = "return \\ScriptHammer\\EditionProducts::sync_from_companion();"

#: how many products on sale (not draft) each value of a meta key has
ON_SALE = """$out = array();
foreach ( get_posts( array( 'post_type' => 'product', 'post_status' => array( 'publish', 'private', 'pending', 'future' ),
  'posts_per_page' => -1, 'fields' => 'ids', 'meta_key' => %s ) ) as $id ) {
  $v = get_post_meta( $id, %s, true ); $out[ $v ] = ( $out[ $v ] ?? 0 ) + 1; }
return $out;"""


def _on_sale(wp, key: str) -> dict[str, int]:
    return wp.php(ON_SALE % (json.dumps(key), json.dumps(key)))


def _series(companion, work: str, count: int, title: str) -> None:
    r = requests.post(f"{companion.url}/api/rights/series", json={"work": work, "count": count, "title": title},
                      headers={"Authorization": f"Bearer {companion.tokens['ivory']}"}, timeout=30)
    assert r.status_code == 201, r.text


def _editions(companion, work: str) -> dict[int, str]:
    from companion.rights.models import Edition, EditionSeries

    with companion.svc.db.session() as s:
        rows = s.execute(sa.select(Edition.number, Edition.owner).join(EditionSeries, EditionSeries.id == Edition.series_id)
                         .where(EditionSeries.work == work)).all()
        return dict(rows)


def _log(companion, work: str) -> list[dict]:
    from companion.rights.models import LogEntry

    with companion.svc.db.session() as s:
        entries = [json.loads(b) for b in s.scalars(sa.select(LogEntry.body).order_by(LogEntry.idx))]
    return [{k: e.get(k) for k in ("kind", "number", "to", "from") if k in e} for e in entries if e.get("work") == work]


def _licences(companion, wp_user_id: int) -> list[tuple[str, str, bool]]:
    from companion.rights.models import Licence

    with companion.svc.db.session() as s:
        return sorted((r.member, r.tier, r.revoked_at is not None)
                      for r in s.scalars(sa.select(Licence).where(Licence.owner == f"wp:{wp_user_id}")))


def _applied(companion, order_id: int, status: str) -> dict | None:
    """The outcome of the last applied delivery of this order in this status, once there is one."""
    from companion.commerce.models import WebhookDelivery

    with companion.svc.db.session() as s:
        for d in s.scalars(sa.select(WebhookDelivery).where(WebhookDelivery.resource_id == order_id)
                           .order_by(WebhookDelivery.id.desc())):
            if d.state == "applied" and (d.payload or {}).get("status") == status:
                return d.outcome
    return None


def _order(wp, customer: int, lines: list[tuple[int, str, int]], *, pay: bool = True) -> int:
    """An order of several products [(product, unit amount, quantity)], paid unless ``pay`` is False."""
    adds = "\n".join(f"$order->add_product( wc_get_product( {p} ), {q}, array( 'subtotal' => {float(a) * q}, "
                     f"'total' => {float(a) * q} ) );" for p, a, q in lines)
    return int(wp.php(f"""$order = wc_create_order( array( 'customer_id' => {customer} ) );
{adds}
$order->calculate_totals();
$order->set_payment_method( 'cod' );
$order->save();
if ( {json.dumps(pay)} ) {{ $order->payment_complete(); }}
return $order->get_id();"""))


def test_edition_and_bundle_products_follow_the_companion(woo, companion, companion_worker):
    _series(companion, "composition:7101", 3, "Fractal Funk, the score")
    done = woo.php(SYNC)
    assert done["composition:7101"]["created"] is True
    product = woo.php(EDITIONS)["composition:7101"]
    assert product | {"id": 0} == {"id": 0, "name": "Fractal Funk, the score: numbered edition (of 3)", "price": "25.00",
                                   "virtual": True, "status": "publish", "kind": "edition", "min": "25.00",
                                   "manage_stock": True, "stock": 3, "in_stock": True}
    again = woo.php(SYNC)
    assert again["composition:7101"]["created"] is False and again["composition:7101"]["product_id"] == product["id"]
    # The pricing's bundles: one product each, at the computed price, with every item.
    woo.php("return \\ScriptHammer\\BundleProducts::sync_from_companion();")
    bundles = woo.php(BUNDLES)
    assert set(bundles) == {"all-algorithms-non-commercial", "all-algorithms-commercial"}
    nc = bundles["all-algorithms-non-commercial"]
    assert (nc["price"], nc["status"], nc["kind"], len(nc["items"])) == ("63.00", "publish", "bundle", 7)
    assert bundles["all-algorithms-commercial"]["price"] == "630.00"
    assert "licence:reed:non-commercial" in nc["items"]
    # The leader drops a bundle: its product goes off sale (and nothing new is made).
    from companion.commerce import pricing

    doc = copy.deepcopy(pricing.DEFAULTS)
    doc["bundles"] = doc["bundles"][:1]
    r = requests.put(f"{companion.url}/api/pricing", json=doc, timeout=30,
                     headers={"Authorization": f"Bearer {companion.tokens['ivory']}"})
    assert r.status_code == 200, r.text
    try:
        synced = woo.php("return \\ScriptHammer\\BundleProducts::sync_from_companion();")
        assert synced["all-algorithms-commercial"]["status"] == "draft", synced
        after = woo.php(BUNDLES)
        assert after["all-algorithms-commercial"]["status"] == "draft"
        assert after["all-algorithms-non-commercial"] | {"id": 0} == nc | {"id": 0}
    finally:
        with companion.svc.db.session() as s:
            pricing.reset(s)
        woo.php("return \\ScriptHammer\\BundleProducts::sync_from_companion();")
    assert woo.php(BUNDLES)["all-algorithms-commercial"]["status"] == "publish"  # back on sale
    # Whatever ran before (admin_init in several requests at once), one product on sale per thing sold.
    assert set(_on_sale(woo, "_scripthammer_bundle").values()) == {1}, _on_sale(woo, "_scripthammer_bundle")
    assert set(_on_sale(woo, "_scripthammer_edition").values()) == {1}, _on_sale(woo, "_scripthammer_edition")
    assert set(_on_sale(woo, "_scripthammer_licence").values()) == {1}, _on_sale(woo, "_scripthammer_licence")


def test_a_sync_runs_once_at_a_time(woo):
    """admin_init fires in several requests at once (wp-admin's AJAX beside the page): a second sync
    while one runs does nothing; a lock left by a request that died is taken over after a minute."""
    result = woo.php("""$ran = array();
$inner = null;
$outer = \\ScriptHammer\\Commerce::sync_once( 'scripthammer_test_lock', function () use ( &$ran, &$inner ) {
  $ran[] = 'outer';
  $inner = \\ScriptHammer\\Commerce::sync_once( 'scripthammer_test_lock', function () use ( &$ran ) { $ran[] = 'inner'; } );
} );
global $wpdb;
$wpdb->insert( $wpdb->options, array( 'option_name' => 'scripthammer_test_lock', 'option_value' => (string) ( time() - 30 ), 'autoload' => 'no' ) );
$fresh = \\ScriptHammer\\Commerce::sync_once( 'scripthammer_test_lock', function () use ( &$ran ) { $ran[] = 'fresh-lock'; } );
$wpdb->update( $wpdb->options, array( 'option_value' => (string) ( time() - 120 ) ), array( 'option_name' => 'scripthammer_test_lock' ) );
$stale = \\ScriptHammer\\Commerce::sync_once( 'scripthammer_test_lock', function () use ( &$ran ) { $ran[] = 'stale-lock'; } );
$left = $wpdb->get_var( "SELECT COUNT(*) FROM {$wpdb->options} WHERE option_name = 'scripthammer_test_lock'" );
return array( 'outer' => $outer, 'inner' => $inner, 'fresh' => $fresh, 'stale' => $stale, 'ran' => $ran, 'left' => (int) $left );""")
    assert result == {"outer": True, "inner": False, "fresh": False, "stale": True, "ran": ["outer", "stale-lock"],
                      "left": 0}


def test_a_real_order_issues_an_edition_and_a_licence_and_a_refund_takes_both_back(woo, companion, companion_worker):
    """The issue's test: a WooCommerce order, in the session, issues an edition and a licence."""
    woo.php("\\ScriptHammer\\Webhooks::ensure( true ); return true;")
    _series(companion, "composition:7102", 2, "Breakbeat Canon")
    woo.php(SYNC)
    edition = woo.php(EDITIONS)["composition:7102"]["id"]
    woo.php("\\ScriptHammer\\LicenceProducts::sync_from_companion(); return true;")
    licence = woo.php("return \\ScriptHammer\\LicenceProducts::find( 'brass:non-commercial' );")
    fan = shop.user(woo, "edition-collector")
    order_id = _order(woo, fan, [(edition, "40.00", 1), (licence, "15.00", 1)])
    shop.deliver_webhooks(woo)
    assert shop.wait_for(lambda: _editions(companion, "composition:7102")) == {1: f"wp:{fan}"}
    shop.wait_for(lambda: _licences(companion, fan) == [("brass", "non-commercial", False)])
    assert _log(companion, "composition:7102")[-1] == {"kind": "issue", "number": 1, "to": f"wp:{fan}"}
    # The certificate the fan can check offline names them.
    cert = requests.get(f"{companion.url}/api/rights/editions/certificate",
                        params={"work": "composition:7102", "number": 1}, timeout=30).json()
    assert cert["chain"][0]["entry"]["to"] == f"wp:{fan}" and cert["chain"][0]["entry"]["order"].startswith(f"wc-order:{order_id}:")
    # WooCommerce took one from the stock; the companion says the same.
    assert woo.php(EDITIONS)["composition:7102"]["stock"] == 1
    assert woo.php(SYNC)["composition:7102"]["stock"] == 1
    # Refunded: the edition is taken back on the log, the licence revoked, the edition on sale again.
    shop.refund(woo, order_id)
    shop.deliver_webhooks(woo)
    shop.wait_for(lambda: _editions(companion, "composition:7102") == {})
    shop.wait_for(lambda: _licences(companion, fan) == [("brass", "non-commercial", True)])
    assert _log(companion, "composition:7102")[-1] == {"kind": "revoke", "number": 1, "from": f"wp:{fan}"}
    assert woo.php(SYNC)["composition:7102"]["stock"] == 2


def test_ordering_beyond_the_count_is_refused_and_writes_nothing(woo, companion, companion_worker):
    woo.php("\\ScriptHammer\\Webhooks::ensure( true ); return true;")
    _series(companion, "composition:7103", 1, "Last Copy")
    woo.php(SYNC)
    product = woo.php(EDITIONS)["composition:7103"]["id"]
    first = shop.user(woo, "edition-first")
    _order(woo, first, [(product, "25.00", 1)])
    shop.deliver_webhooks(woo)
    shop.wait_for(lambda: _editions(companion, "composition:7103") == {1: f"wp:{first}"})
    synced = woo.php(SYNC)["composition:7103"]
    assert (synced["stock"], synced["in_stock"]) == (0, False)
    # A fan's cart refuses it, with a clear message and nothing in the cart.
    s = requests.Session()
    r = s.get(woo.rest_url("/wc/store/v1/cart"), timeout=60)
    nonce = {"Nonce": r.headers.get("Nonce") or r.headers.get("X-WC-Store-API-Nonce") or ""}
    r = s.post(woo.rest_url("/wc/store/v1/cart/add-item"), headers=nonce, timeout=60,
               json={"id": product, "quantity": 1, "scripthammer_tip_amount": "30.00"})
    assert r.status_code == 400, r.text[:500]
    assert re.search(r"All 1 numbered editions of this piece are sold|out of stock", r.json()["message"]), r.json()
    assert s.get(woo.rest_url("/wc/store/v1/cart"), timeout=60).json()["items"] == []
    # The shop forces an order through anyway (an order made in wp-admin ignores stock): the companion
    # issues nothing and says why; the log is unchanged.
    before = _log(companion, "composition:7103")
    second = shop.user(woo, "edition-second")
    forced = _order(woo, second, [(product, "25.00", 2)])
    shop.deliver_webhooks(woo)
    outcome = shop.wait_for(lambda: _applied(companion, forced, "processing") or _applied(companion, forced, "completed"))
    assert [e["refused"] for e in outcome["editions"]] == ["beyond_edition_count", "beyond_edition_count"], outcome
    assert _editions(companion, "composition:7103") == {1: f"wp:{first}"}
    assert _log(companion, "composition:7103") == before


def test_a_bundle_order_grants_every_licence_and_a_refund_revokes_every_one(woo, companion, companion_worker):
    woo.php("\\ScriptHammer\\Webhooks::ensure( true ); return true;")
    woo.php("return \\ScriptHammer\\BundleProducts::sync_from_companion();")
    bundle = woo.php(BUNDLES)["all-algorithms-non-commercial"]["id"]
    fan = shop.user(woo, "bundle-buyer")
    order_id = _order(woo, fan, [(bundle, "63.00", 1)])
    shop.deliver_webhooks(woo)
    members = ["brass", "chops", "crash", "form", "ivory", "reed", "verse"]
    assert shop.wait_for(lambda: len(_licences(companion, fan)) == 7 and _licences(companion, fan)) == [
        (m, "non-commercial", False) for m in members]
    shop.refund(woo, order_id)
    shop.deliver_webhooks(woo)
    shop.wait_for(lambda: _licences(companion, fan) == [(m, "non-commercial", True) for m in members])


def test_line_items_carry_the_edition_and_the_bundle(woo, companion):
    _series(companion, "composition:7104", 5, "Annotated")
    woo.php(SYNC)
    woo.php("return \\ScriptHammer\\BundleProducts::sync_from_companion();")
    edition = woo.php(EDITIONS)["composition:7104"]["id"]
    bundle = woo.php(BUNDLES)["all-algorithms-commercial"]
    fan = shop.user(woo, "edition-reader")
    order_id = _order(woo, fan, [(edition, "25.00", 1), (bundle["id"], "630.00", 1)], pay=False)
    items = woo.php(f"""$o = wc_get_order( {order_id} );
$r = apply_filters( 'woocommerce_rest_prepare_shop_order_object', new WP_REST_Response( array( 'line_items' => array(
  array( 'id' => 1, 'product_id' => {edition} ), array( 'id' => 2, 'product_id' => {bundle['id']} ),
  array( 'id' => 3, 'product_id' => 0 ) ) ) ), $o, new WP_REST_Request( 'GET' ) );
return $r->get_data()['line_items'];""")
    assert items[0]["scripthammer_edition"] == "composition:7104" and "scripthammer_bundle" not in items[0]
    assert items[1]["scripthammer_bundle"] == "all-algorithms-commercial"
    assert items[1]["scripthammer_bundle_items"] == bundle["items"]
    assert not any(k.startswith("scripthammer_") for k in items[2])
