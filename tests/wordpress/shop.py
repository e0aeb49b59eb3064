"""Helpers that drive WooCommerce (and WooCommerce Subscriptions) the same way on the real plugins
(SCRIPTHAMMER_WP_EXTRA_PLUGINS) and on the labelled stand-ins: orders, refunds, subscriptions, REST API
keys, webhook deliveries waiting in WooCommerce's queue, and waiting for the companion to apply them."""
from __future__ import annotations

import json
import time

#: PHP: true when the stand-in WooCommerce is loaded instead of the real one.
STANDIN = "function_exists( 'scripthammer_standin_checkout' )"


def user(wp, login: str, role: str = "customer") -> int:
    """A user (made once) with ``role`` (falls back to subscriber when the role does not exist)."""
    return int(wp.php(f"""$u = get_user_by( 'login', {json.dumps(login)} );
if ( $u ) {{ return $u->ID; }}
$role = get_role( {json.dumps(role)} ) ? {json.dumps(role)} : 'subscriber';
$id = wp_insert_user( array( 'user_login' => {json.dumps(login)}, 'user_pass' => {json.dumps(login + '-pass-1')},
  'user_email' => {json.dumps(login + '@scripthammer.test')}, 'role' => $role, 'display_name' => {json.dumps(login.title())} ) );
if ( is_wp_error( $id ) ) {{ throw new Exception( $id->get_error_message() ); }}
return $id;"""))


def order(wp, customer: int, product_id: int, amount: str = "7.00", *, pay: bool = True) -> int:
    """An order of one product at ``amount``, paid (payment_complete) unless ``pay`` is False."""
    return int(wp.php(f"""$order = wc_create_order( array( 'customer_id' => {customer} ) );
$order->add_product( wc_get_product( {product_id} ), 1, array( 'subtotal' => {amount}, 'total' => {amount} ) );
$order->calculate_totals();
$order->set_payment_method( 'cod' );
$order->save();
if ( {json.dumps(pay)} ) {{ $order->payment_complete(); }}
return $order->get_id();"""))


def set_order_status(wp, order_id: int, status: str) -> None:
    wp.php(f"$o = wc_get_order( {order_id} ); $o->update_status( {json.dumps(status)} ); return true;")


def refund(wp, order_id: int) -> None:
    """A full refund (WooCommerce then sets the order's status to refunded)."""
    wp.php(f"""$o = wc_get_order( {order_id} );
$r = wc_create_refund( array( 'order_id' => {order_id}, 'amount' => $o->get_total(), 'reason' => 'test refund' ) );
if ( is_wp_error( $r ) ) {{ throw new Exception( $r->get_error_message() ); }}
return true;""")


def subscription(wp, customer: int, product_id: int, *, days: int = 30) -> int:
    """An active subscription to ``product_id`` with its next payment in ``days``."""
    return int(wp.php(f"""$sub = wcs_create_subscription( array( 'customer_id' => {customer}, 'billing_period' => 'month',
  'billing_interval' => 1, 'start_date' => gmdate( 'Y-m-d H:i:s', time() - 60 ) ) );
if ( is_wp_error( $sub ) ) {{ throw new Exception( $sub->get_error_message() ); }}
$sub->add_product( wc_get_product( {product_id} ), 1 );
$sub->calculate_totals();
$sub->update_dates( array( 'next_payment' => gmdate( 'Y-m-d H:i:s', time() + {days} * DAY_IN_SECONDS ) ) );
$sub->update_status( 'active' );
return $sub->get_id();"""))


def set_subscription_status(wp, sub_id: int, status: str) -> str:
    """Change a subscription's status the way WooCommerce Subscriptions does (it sets the dates that go with it)."""
    return wp.php(f"""$s = wcs_get_subscription( {sub_id} );
$s->update_status( {json.dumps(status)} );
return wcs_get_subscription( {sub_id} )->get_status();""")


def deliver_webhooks(wp) -> int:
    """Run WooCommerce's queue of webhook deliveries (Action Scheduler; the stand-in delivers at once)."""
    return int(wp.php(f"""if ( {STANDIN} ) {{ return 0; }}
$store = ActionScheduler::store();
$ids = $store->query_actions( array( 'hook' => 'woocommerce_deliver_webhook_async', 'status' => 'pending', 'per_page' => 200 ) );
$runner = ActionScheduler::runner();
foreach ( $ids as $id ) {{ $runner->process_action( $id, 'ScriptHammer test' ); }}
return count( $ids );"""))


def api_key(wp) -> tuple[str, str]:
    """A read-only WooCommerce REST API key (consumer key and secret) for the administrator."""
    return tuple(wp.php(f"""if ( {STANDIN} ) {{ return scripthammer_standin_api_key(); }}
global $wpdb;
$ck = 'ck_' . wc_rand_hash(); $cs = 'cs_' . wc_rand_hash();
$wpdb->insert( $wpdb->prefix . 'woocommerce_api_keys', array( 'user_id' => 1, 'description' => 'ScriptHammer companion',
  'permissions' => 'read', 'consumer_key' => wc_api_hash( $ck ), 'consumer_secret' => $cs, 'truncated_key' => substr( $ck, -7 ) ) );
return array( $ck, $cs );"""))


def wait_for(predicate, timeout: float = 60.0, step: float = 0.3):
    """Poll ``predicate`` until it returns something truthy; that value, or AssertionError on timeout."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(step)
    raise AssertionError(f"not reached in {timeout}s (last: {last!r})")
