"""Algorithm licences sold through WooCommerce, on a real WordPress: admin_init prices one product per
member algorithm and tier from the companion's GET /api/pricing (once; again when the prices change,
the same products), a paid order's webhook (its line item annotated with ``scripthammer_licence``)
makes the companion issue the buyer a signed licence, a refund revokes it. With
SCRIPTHAMMER_WP_EXTRA_PLUGINS the real WooCommerce does it (ids say ``real-plugins``); otherwise the
labelled stand-in sends the same documented payload and signature."""
from __future__ import annotations

import copy

import requests
import sqlalchemy as sa

from . import shop

PRODUCTS = """$out = array();
foreach ( get_posts( array( 'post_type' => 'product', 'post_status' => 'any', 'posts_per_page' => -1, 'fields' => 'ids',
  'meta_key' => '_scripthammer_licence' ) ) as $id ) { $p = wc_get_product( $id );
  $out[ get_post_meta( $id, '_scripthammer_licence', true ) ] = array( 'id' => $id, 'name' => $p->get_name(),
    'price' => $p->get_regular_price(), 'virtual' => $p->is_virtual(), 'downloadable' => $p->is_downloadable(),
    'status' => $p->get_status(), 'kind' => get_post_meta( $id, '_scripthammer_product', true ),
    'min' => get_post_meta( $id, '_scripthammer_min_price', true ) ); }
return $out;"""


def _licences(companion, wp_user_id: int) -> list[tuple[str, str, bool]]:
    from companion.rights.models import Licence

    with companion.svc.db.session() as s:
        rows = s.scalars(sa.select(Licence).where(Licence.owner == f"wp:{wp_user_id}")).all()
        return [(r.member, r.tier, r.revoked_at is not None) for r in rows]


def test_licence_products_follow_the_companions_prices(woo, companion, companion_worker):
    products = woo.php(PRODUCTS)  # the woo fixture ran admin_init once: the products are there
    assert len(products) == 14, sorted(products)
    crash = products["crash:commercial"]
    assert crash | {"id": 0} == {"id": 0, "name": "Crash's algorithm: commercial licence", "price": "150.00",
                                 "virtual": True, "downloadable": True, "status": "publish", "kind": "licence",
                                 "min": "150.00"}
    assert products["ivory:non-commercial"]["price"] == "15.00"
    # Again: nothing new.
    again = woo.php("return \\ScriptHammer\\LicenceProducts::sync_from_companion();")
    assert not any(v["created"] for v in again.values()) and again["crash:commercial"]["product_id"] == crash["id"]
    # The leader changes the commercial tier: the same products take the new price.
    from companion.commerce import pricing

    doc = copy.deepcopy(pricing.DEFAULTS)
    doc["licence_tiers"]["commercial"]["minimum"] = "180.00"
    r = requests.put(f"{companion.url}/api/pricing", json=doc, timeout=30,
                     headers={"Authorization": f"Bearer {companion.tokens['ivory']}"})
    assert r.status_code == 200, r.text
    try:
        woo.php("\\ScriptHammer\\LicenceProducts::sync_from_companion(); return true;")
        after = woo.php(PRODUCTS)
        assert after["crash:commercial"]["id"] == crash["id"] and after["crash:commercial"]["price"] == "180.00"
        assert after["crash:non-commercial"]["price"] == "15.00" and len(after) == 14
    finally:
        with companion.svc.db.session() as s:
            pricing.reset(s)
        woo.php("\\ScriptHammer\\LicenceProducts::sync_from_companion(); return true;")


def test_a_paid_order_issues_a_licence_and_a_refund_revokes_it(woo, companion, companion_worker):
    woo.php("\\ScriptHammer\\Webhooks::ensure( true ); return true;")
    fan = shop.user(woo, "algorithm-buyer")
    product = woo.php(PRODUCTS)["reed:non-commercial"]["id"]
    # What WooCommerce's REST API (and so the webhook) says of the line item.
    order_id = shop.order(woo, fan, product, "20.00")
    shop.deliver_webhooks(woo)
    assert shop.wait_for(lambda: _licences(companion, fan)) == [("reed", "non-commercial", False)]
    shop.refund(woo, order_id)
    shop.deliver_webhooks(woo)
    shop.wait_for(lambda: _licences(companion, fan) == [("reed", "non-commercial", True)])
    # The revocation list the package's run.py reads names it.
    from companion.rights.models import Licence

    with companion.svc.db.session() as s:
        lic_id = s.scalar(sa.select(Licence.id).where(Licence.owner == f"wp:{fan}"))
    listed = requests.get(f"{companion.url}/api/rights/licences/revocations", timeout=30).json()
    assert lic_id in listed["revocations"]["revoked"]


def test_line_items_carry_the_licence(woo):
    fan = shop.user(woo, "algorithm-reader")
    product = woo.php(PRODUCTS)["chops:commercial"]["id"]
    order_id = shop.order(woo, fan, product, "150.00", pay=False)
    items = woo.php(f"""$o = wc_get_order( {order_id} );
$r = apply_filters( 'woocommerce_rest_prepare_shop_order_object', new WP_REST_Response( array( 'line_items' => array(
  array( 'id' => 1, 'product_id' => {product} ), array( 'id' => 2, 'product_id' => 0 ) ) ) ), $o, new WP_REST_Request( 'GET' ) );
return $r->get_data()['line_items'];""")
    assert items[0]["scripthammer_licence"] == "chops:commercial" and "scripthammer_licence" not in items[1]
