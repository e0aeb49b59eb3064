<?php
/**
 * Plugin Name: ScriptHammer TEST STAND-IN for WooCommerce (not WooCommerce)
 * Description: Only the WooCommerce functions and classes the ScriptHammer plugin calls, for tests without the real plugin.
 * Version: 0.0.0-standin
 */

defined( 'ABSPATH' ) || exit;

// phpcs:disable -- test stand-in

class WooCommerce {
	public $cart;
	public $version = '0.0.0-standin';
}

function WC() {
	static $wc = null;
	if ( null === $wc ) {
		$wc = new WooCommerce();
	}
	return $wc;
}

add_action( 'init', static function () {
	register_post_type( 'product', array( 'public' => true, 'label' => 'Products (stand-in)' ) );
	do_action( 'woocommerce_init' );
}, 0 );

class WC_Product_Simple {
	protected int $id = 0;
	protected array $props = array( 'name' => '', 'status' => 'draft', 'regular_price' => '', 'price' => '', 'virtual' => false, 'catalog_visibility' => 'visible', 'sold_individually' => false, 'description' => '' );
	protected array $meta = array();

	public function __construct( $id = 0 ) {
		if ( $id ) {
			$this->id = (int) $id;
			$post = get_post( $this->id );
			$this->props['name'] = $post->post_title;
			$this->props['status'] = $post->post_status;
			$this->props['regular_price'] = (string) get_post_meta( $this->id, '_regular_price', true );
			$this->props['price'] = $this->props['regular_price'];
		}
	}
	public function get_type() { return 'simple'; }
	public function get_id() { return $this->id; }
	public function set_name( $v ) { $this->props['name'] = $v; }
	public function get_name() { return $this->props['name']; }
	public function set_status( $v ) { $this->props['status'] = $v; }
	public function get_status() { return $this->props['status']; }
	public function set_catalog_visibility( $v ) { $this->props['catalog_visibility'] = $v; }
	public function set_virtual( $v ) { $this->props['virtual'] = (bool) $v; }
	public function set_sold_individually( $v ) { $this->props['sold_individually'] = (bool) $v; }
	public function set_description( $v ) { $this->props['description'] = $v; }
	public function set_regular_price( $v ) { $this->props['regular_price'] = (string) $v; $this->props['price'] = (string) $v; }
	public function get_regular_price() { return $this->props['regular_price']; }
	public function set_price( $v ) { $this->props['price'] = (string) $v; }
	public function get_price() { return $this->props['price']; }
	public function update_meta_data( $k, $v ) { $this->meta[ $k ] = $v; }
	public function save() {
		$this->id = (int) wp_insert_post( array( 'ID' => $this->id, 'post_type' => 'product', 'post_title' => $this->props['name'], 'post_status' => $this->props['status'], 'post_content' => $this->props['description'] ) );
		update_post_meta( $this->id, '_regular_price', $this->props['regular_price'] );
		update_post_meta( $this->id, '_standin_type', $this->get_type() );
		foreach ( $this->meta as $k => $v ) {
			update_post_meta( $this->id, $k, $v );
		}
		return $this->id;
	}
}

function wc_get_product( $id ) {
	$id = (int) $id;
	if ( ! $id || 'product' !== get_post_type( $id ) ) {
		return false;
	}
	$type = get_post_meta( $id, '_standin_type', true );
	return ( 'subscription' === $type && class_exists( 'WC_Product_Subscription' ) ) ? new WC_Product_Subscription( $id ) : new WC_Product_Simple( $id );
}

function wc_add_notice( $message, $type = 'success' ) {
	$GLOBALS['scripthammer_standin_notices'][] = array( $type, $message );
}

function wc_price( $amount ) {
	return '<span class="amount">$' . number_format( (float) $amount, 2 ) . '</span>';
}

function wc_get_cart_url() {
	return home_url( '/?page_id=cart' );
}

function wc_load_cart() {
	if ( ! WC()->cart ) {
		WC()->cart = new Scripthammer_Standin_Cart();
	}
}

/** The cart's add / totals cycle: the same filters and actions WooCommerce runs. */
class Scripthammer_Standin_Cart {
	private array $items = array();

	public function add_to_cart( $product_id, $quantity = 1 ) {
		if ( ! apply_filters( 'woocommerce_add_to_cart_validation', true, $product_id, $quantity ) ) {
			return false;
		}
		try { // As WC_Cart::add_to_cart: an exception from a filter becomes a notice, nothing is added.
			$data = (array) apply_filters( 'woocommerce_add_cart_item_data', array(), $product_id, 0, $quantity );
		} catch ( Exception $e ) {
			wc_add_notice( $e->getMessage(), 'error' );
			return false;
		}
		$key  = md5( $product_id . wp_json_encode( $data ) );
		$this->items[ $key ] = array_merge( $data, array( 'key' => $key, 'product_id' => $product_id, 'quantity' => $quantity, 'data' => wc_get_product( $product_id ) ) );
		return $key;
	}
	public function get_cart() { return $this->items; }
	public function remove_cart_item( $key ) { unset( $this->items[ $key ] ); return true; }
	public function empty_cart() { $this->items = array(); }
	public function calculate_totals() { do_action( 'woocommerce_before_calculate_totals', $this ); }
	public function get_total( $context = 'view' ) {
		$total = 0.0;
		foreach ( $this->items as $item ) {
			$total += (float) $item['data']->get_price() * $item['quantity'];
		}
		return $total;
	}
}

/** Checkout: an order from the cart, then payment complete (what grants memberships). */
class Scripthammer_Standin_Order {
	public function __construct( public int $id ) {}
	public function get_id() { return $this->id; }
	public function get_customer_id() { return (int) get_post_meta( $this->id, '_customer_user', true ); }
	public function get_items() {
		return array_map( static fn( $pid ) => new class( $pid ) { public function __construct( private int $pid ) {} public function get_product_id() { return $this->pid; } }, (array) get_post_meta( $this->id, '_standin_products', true ) );
	}
	public function get_total() { return (float) get_post_meta( $this->id, '_order_total', true ); }
	public function get_meta( $k ) { return get_post_meta( $this->id, $k, true ); }
	public function update_meta_data( $k, $v ) { update_post_meta( $this->id, $k, $v ); }
	public function save() { return $this->id; }
	public function payment_complete() { do_action( 'woocommerce_payment_complete', $this->id ); return true; }
}

function wc_get_order( $id ) {
	return get_post_meta( (int) $id, '_standin_order', true ) ? new Scripthammer_Standin_Order( (int) $id ) : false;
}

function scripthammer_standin_checkout( int $customer_id ) {
	$cart = WC()->cart;
	$cart->calculate_totals();
	$id = (int) wp_insert_post( array( 'post_type' => 'post', 'post_status' => 'private', 'post_title' => 'Stand-in order' ) );
	update_post_meta( $id, '_standin_order', 1 );
	update_post_meta( $id, '_customer_user', $customer_id );
	update_post_meta( $id, '_order_total', $cart->get_total( 'edit' ) );
	update_post_meta( $id, '_standin_products', array_values( array_map( static fn( $i ) => $i['product_id'], $cart->get_cart() ) ) );
	$cart->empty_cart();
	return new Scripthammer_Standin_Order( $id );
}
