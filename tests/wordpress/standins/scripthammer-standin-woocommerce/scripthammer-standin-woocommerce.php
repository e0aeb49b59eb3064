<?php
/**
 * Plugin Name: ScriptHammer TEST STAND-IN for WooCommerce (not WooCommerce)
 * Description: Only the WooCommerce functions, classes, routes and webhooks the ScriptHammer plugin and its tests use, for tests without the real plugin. Payloads, signatures and headers follow WooCommerce's documented shapes.
 * Version: 0.0.0-standin
 */

defined( 'ABSPATH' ) || exit;

// phpcs:disable -- test stand-in

class WooCommerce {
	public $cart;
	public $version = '0.0.0-standin';
	public function payment_gateways() { return Scripthammer_Standin_Gateways::instance(); }
}

function WC() {
	static $wc = null;
	if ( null === $wc ) {
		$wc = new WooCommerce();
	}
	return $wc;
}

function scripthammer_standin_register(): void {
	register_post_type( 'product', array( 'public' => true, 'label' => 'Products (stand-in)', 'rewrite' => array( 'slug' => 'product' ) ) );
	register_post_type( 'shop_order', array( 'public' => false, 'label' => 'Orders (stand-in)' ) );
	register_taxonomy( 'product_type', 'product', array( 'public' => false ) );
}

add_action( 'init', static function () {
	scripthammer_standin_register();
	do_action( 'woocommerce_init' );
	scripthammer_standin_cart_request();
}, 0 );

// As WooCommerce's installer: product pages have their rewrite rules.
register_activation_hook( __FILE__, static function () {
	scripthammer_standin_register();
	flush_rewrite_rules();
} );

// As WooCommerce's roles: administrators manage the shop and read its orders.
add_filter( 'user_has_cap', static function ( $allcaps ) {
	if ( ! empty( $allcaps['manage_options'] ) ) {
		$allcaps['manage_woocommerce'] = $allcaps['read_private_shop_orders'] = true;
	}
	return $allcaps;
} );

/* ---------------------------------------------------------------- products */

class WC_Product_Simple {
	protected int $id = 0;
	protected array $props = array( 'name' => '', 'status' => 'draft', 'regular_price' => '', 'price' => '', 'virtual' => false, 'downloadable' => false, 'catalog_visibility' => 'visible', 'sold_individually' => false, 'description' => '', 'short_description' => '', 'purchase_note' => '', 'manage_stock' => false, 'stock_quantity' => null, 'stock_status' => 'instock' );
	protected array $meta = array();

	public function __construct( $id = 0 ) {
		if ( $id ) {
			$this->id = (int) $id;
			$post = get_post( $this->id );
			$this->props['name'] = $post->post_title;
			$this->props['status'] = $post->post_status;
			$this->props['description'] = $post->post_content;
			$this->props['regular_price'] = (string) get_post_meta( $this->id, '_regular_price', true );
			$this->props['price'] = $this->props['regular_price'];
			$this->props['virtual'] = 'yes' === get_post_meta( $this->id, '_virtual', true );
			$this->props['downloadable'] = 'yes' === get_post_meta( $this->id, '_downloadable', true );
			// As WooCommerce's product data store: stock in _manage_stock, _stock, _stock_status.
			$this->props['manage_stock'] = 'yes' === get_post_meta( $this->id, '_manage_stock', true );
			$stock = get_post_meta( $this->id, '_stock', true );
			$this->props['stock_quantity'] = '' === $stock ? null : (int) $stock;
			$this->props['stock_status'] = get_post_meta( $this->id, '_stock_status', true ) ?: 'instock';
		}
	}
	public function get_type() { return 'simple'; }
	public function is_type( $t ) { return in_array( $this->get_type(), (array) $t, true ); }
	public function get_id() { return $this->id; }
	public function set_name( $v ) { $this->props['name'] = $v; }
	public function get_name() { return $this->props['name']; }
	public function set_status( $v ) { $this->props['status'] = $v; }
	public function get_status() { return $this->props['status']; }
	public function set_catalog_visibility( $v ) { $this->props['catalog_visibility'] = $v; }
	public function set_virtual( $v ) { $this->props['virtual'] = (bool) $v; }
	public function is_virtual() { return $this->props['virtual']; }
	public function set_downloadable( $v ) { $this->props['downloadable'] = (bool) $v; }
	public function is_downloadable() { return $this->props['downloadable']; }
	public function set_sold_individually( $v ) { $this->props['sold_individually'] = (bool) $v; }
	public function set_description( $v ) { $this->props['description'] = $v; }
	public function set_short_description( $v ) { $this->props['short_description'] = $v; }
	public function set_purchase_note( $v ) { $this->props['purchase_note'] = $v; }
	public function set_manage_stock( $v ) { $this->props['manage_stock'] = (bool) $v; }
	public function managing_stock() { return $this->props['manage_stock']; }
	public function set_stock_quantity( $v ) { $this->props['stock_quantity'] = null === $v ? null : (int) $v; }
	public function get_stock_quantity() { return $this->props['stock_quantity']; }
	public function set_stock_status( $v ) { $this->props['stock_status'] = $v; }
	public function get_stock_status() { return $this->props['stock_status']; }
	public function is_in_stock() { return 'outofstock' !== $this->props['stock_status']; }
	/** As WC_Product::has_enough_stock. */
	public function has_enough_stock( $qty ) { return ! $this->props['manage_stock'] || (int) $this->props['stock_quantity'] >= (int) $qty; }
	public function set_regular_price( $v ) { $this->props['regular_price'] = (string) $v; $this->props['price'] = (string) $v; }
	public function get_regular_price() { return $this->props['regular_price']; }
	public function set_price( $v ) { $this->props['price'] = (string) $v; }
	public function get_price() { return $this->props['price']; }
	public function update_meta_data( $k, $v ) { $this->meta[ $k ] = $v; }
	public function supports( $feature ) { return (bool) apply_filters( 'woocommerce_product_supports', 'ajax_add_to_cart' === $feature, $feature, $this ); }
	public function add_to_cart_url() { return apply_filters( 'woocommerce_product_add_to_cart_url', add_query_arg( 'add-to-cart', $this->id, home_url( '/' ) ), $this ); }
	public function save() {
		$this->id = (int) wp_insert_post( array( 'ID' => $this->id, 'post_type' => 'product', 'post_title' => $this->props['name'], 'post_status' => $this->props['status'], 'post_content' => $this->props['description'], 'post_excerpt' => $this->props['short_description'] ) );
		update_post_meta( $this->id, '_regular_price', $this->props['regular_price'] );
		update_post_meta( $this->id, '_virtual', $this->props['virtual'] ? 'yes' : 'no' );
		update_post_meta( $this->id, '_downloadable', $this->props['downloadable'] ? 'yes' : 'no' );
		update_post_meta( $this->id, '_manage_stock', $this->props['manage_stock'] ? 'yes' : 'no' );
		update_post_meta( $this->id, '_stock', null === $this->props['stock_quantity'] ? '' : (string) $this->props['stock_quantity'] );
		// As WooCommerce: a managed stock at 0 or less is out of stock.
		if ( $this->props['manage_stock'] ) {
			$this->props['stock_status'] = (int) $this->props['stock_quantity'] > 0 ? 'instock' : 'outofstock';
		}
		update_post_meta( $this->id, '_stock_status', $this->props['stock_status'] );
		// As WooCommerce: saving writes the product type term (a product saved as simple becomes simple).
		wp_set_object_terms( $this->id, $this->get_type(), 'product_type' );
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
	$terms = wp_get_object_terms( $id, 'product_type', array( 'fields' => 'slugs' ) );
	$type  = is_array( $terms ) && $terms ? $terms[0] : 'simple';
	return ( 'subscription' === $type && class_exists( 'WC_Product_Subscription' ) ) ? new WC_Product_Subscription( $id ) : new WC_Product_Simple( $id );
}

function wc_delete_product_transients( $id = 0 ) {}

function wc_add_notice( $message, $type = 'success' ) {
	$GLOBALS['scripthammer_standin_notices'][] = array( $type, $message );
}

function wc_price( $amount ) {
	return '<span class="amount">$' . number_format( (float) $amount, 2 ) . '</span>';
}

function wc_get_cart_url() {
	return home_url( '/?page_id=cart' );
}

/* ---------------------------------------------------------------- the product page */

// As WooCommerce's single product template: the add-to-cart form with its action inside.
add_filter( 'the_content', static function ( $content ) {
	if ( ! is_singular( 'product' ) ) {
		return $content;
	}
	$GLOBALS['product'] = wc_get_product( get_the_ID() );
	ob_start();
	echo '<p class="price">' . apply_filters( 'woocommerce_get_price_html', wc_price( $GLOBALS['product']->get_price() ), $GLOBALS['product'] ) . '</p>';
	echo '<form class="cart" method="post" enctype="multipart/form-data">';
	do_action( 'woocommerce_before_add_to_cart_button' );
	echo '<input type="hidden" name="quantity" value="1" /><button type="submit" name="add-to-cart" value="' . (int) get_the_ID() . '">Add to cart</button></form>';
	return $content . ob_get_clean();
} );

/* ---------------------------------------------------------------- cart (kept per browser, like WooCommerce's session) */

function wc_load_cart() {
	if ( ! WC()->cart ) {
		WC()->cart = new Scripthammer_Standin_Cart( scripthammer_standin_cart_key() );
	}
}

function scripthammer_standin_cart_key(): string {
	if ( ! empty( $_COOKIE['sh_standin_cart'] ) && preg_match( '/^[a-f0-9]{32}$/', $_COOKIE['sh_standin_cart'] ) ) {
		return $_COOKIE['sh_standin_cart'];
	}
	$key = md5( wp_generate_password( 32, false ) );
	if ( ! headers_sent() && PHP_SAPI !== 'cli' ) {
		setcookie( 'sh_standin_cart', $key, 0, '/' );
	}
	$_COOKIE['sh_standin_cart'] = $key;
	return $key;
}

/** A form post with add-to-cart (the product page, the tip jar), as WooCommerce's form handler. */
function scripthammer_standin_cart_request(): void {
	if ( empty( $_REQUEST['add-to-cart'] ) || PHP_SAPI === 'cli' || ( defined( 'REST_REQUEST' ) && REST_REQUEST ) ) {
		return;
	}
	wc_load_cart();
	$id = absint( $_REQUEST['add-to-cart'] );
	WC()->cart->add_to_cart( $id, max( 1, absint( $_REQUEST['quantity'] ?? 1 ) ) );
}

class Scripthammer_Standin_Cart {
	private array $items = array();
	private string $key;

	public function __construct( string $key = '' ) {
		$this->key = $key;
		foreach ( (array) get_transient( 'sh_standin_cart_' . $key ) as $k => $item ) {
			if ( is_array( $item ) ) {
				$item['data'] = wc_get_product( $item['product_id'] );
				$this->items[ $k ] = apply_filters( 'woocommerce_get_cart_item_from_session', $item, $item, $k );
			}
		}
	}
	private function persist(): void {
		$store = array();
		foreach ( $this->items as $k => $item ) {
			unset( $item['data'] );
			$store[ $k ] = $item;
		}
		set_transient( 'sh_standin_cart_' . $this->key, $store, HOUR_IN_SECONDS );
	}
	/** As WC_Cart::add_to_cart: validation filter, then cart item data (an exception becomes a notice). */
	public function add_to_cart( $product_id, $quantity = 1, $variation_id = 0, $variation = array(), $cart_item_data = array() ) {
		if ( ! apply_filters( 'woocommerce_add_to_cart_validation', true, $product_id, $quantity ) ) {
			return false;
		}
		try {
			// As WC_Cart::add_to_cart: out of stock, or not enough, is refused (an exception, shown as a notice).
			$product = wc_get_product( $product_id );
			if ( $product && ! $product->is_in_stock() ) {
				throw new Exception( sprintf( 'You cannot add &quot;%s&quot; to the cart because the product is out of stock.', $product->get_name() ) );
			}
			if ( $product && ! $product->has_enough_stock( $quantity ) ) {
				throw new Exception( sprintf( 'You cannot add that amount of &quot;%s&quot; to the cart because there is not enough stock (%d remaining).', $product->get_name(), $product->get_stock_quantity() ) );
			}
			$data = (array) apply_filters( 'woocommerce_add_cart_item_data', $cart_item_data, $product_id, 0, $quantity );
		} catch ( Exception $e ) {
			wc_add_notice( $e->getMessage(), 'error' );
			return false;
		}
		return $this->put( $product_id, $quantity, $data );
	}
	public function put( $product_id, $quantity, array $data ) {
		$key = md5( $product_id . wp_json_encode( $data ) );
		$this->items[ $key ] = array_merge( $data, array( 'key' => $key, 'product_id' => $product_id, 'quantity' => $quantity, 'data' => wc_get_product( $product_id ) ) );
		$this->persist();
		return $key;
	}
	public function get_cart() { return $this->items; }
	public function remove_cart_item( $key ) { unset( $this->items[ $key ] ); $this->persist(); return true; }
	public function empty_cart() { $this->items = array(); $this->persist(); }
	public function calculate_totals() { do_action( 'woocommerce_before_calculate_totals', $this ); }
	public function get_total( $context = 'view' ) {
		$total = 0.0;
		foreach ( $this->items as $item ) {
			$total += (float) $item['data']->get_price() * $item['quantity'];
		}
		return $total;
	}
}

/* ---------------------------------------------------------------- Store API (/wc/store/v1/cart, /cart/add-item) */

// WooCommerce's Store API turns a RouteException into its status and code, anything else into a 500.
require_once __DIR__ . '/route-exception.php';

add_action( 'rest_api_init', static function () {
	register_rest_route( 'wc/store/v1', '/cart', array( 'methods' => 'GET', 'permission_callback' => '__return_true', 'callback' => 'scripthammer_standin_store_cart' ) );
	register_rest_route( 'wc/store/v1', '/cart/add-item', array( 'methods' => 'POST', 'permission_callback' => '__return_true', 'callback' => 'scripthammer_standin_store_add_item' ) );
	register_rest_route( 'wc/v3', '/orders', array( 'methods' => 'GET', 'permission_callback' => 'scripthammer_standin_oauth', 'callback' => static fn( $r ) => scripthammer_standin_collection( 'order', $r ) ) );
	register_rest_route( 'wc/v3', '/orders/(?P<id>\d+)', array( 'methods' => 'GET', 'permission_callback' => 'scripthammer_standin_oauth', 'callback' => static fn( $r ) => rest_ensure_response( scripthammer_standin_order_payload( (int) $r['id'] ) ) ) );
} );

function scripthammer_standin_store_response( $data, int $status = 200 ) {
	$r = new WP_REST_Response( $data, $status );
	$r->header( 'Nonce', wp_create_nonce( 'wc_store_api' ) );
	return $r;
}

function scripthammer_standin_store_cart_data(): array {
	wc_load_cart();
	WC()->cart->calculate_totals();
	$items = array();
	foreach ( WC()->cart->get_cart() as $item ) {
		$items[] = array( 'id' => (int) $item['product_id'], 'quantity' => (int) $item['quantity'], 'totals' => array( 'line_total' => (string) round( 100 * (float) $item['data']->get_price() * $item['quantity'] ) ) );
	}
	return array( 'items' => $items, 'totals' => array( 'total_price' => (string) round( 100 * WC()->cart->get_total( 'edit' ) ) ) );
}

function scripthammer_standin_store_cart() {
	return scripthammer_standin_store_response( scripthammer_standin_store_cart_data() );
}

function scripthammer_standin_store_add_item( WP_REST_Request $request ) {
	if ( ! wp_verify_nonce( (string) $request->get_header( 'Nonce' ), 'wc_store_api' ) ) {
		return new WP_Error( 'woocommerce_rest_invalid_nonce', 'Missing the Nonce header.', array( 'status' => 401 ) );
	}
	try {
		wc_load_cart();
		$data = apply_filters( 'woocommerce_store_api_add_to_cart_data', array( 'id' => (int) $request['id'], 'quantity' => (int) ( $request['quantity'] ?? 1 ), 'variation' => array(), 'cart_item_data' => array() ), $request );
		// As CartController: cart item data first, then the (legacy) validation filter, notices become a 400.
		$data['cart_item_data'] = (array) apply_filters( 'woocommerce_add_cart_item_data', $data['cart_item_data'], $data['id'], 0, $data['quantity'] );
		if ( ! apply_filters( 'woocommerce_add_to_cart_validation', true, $data['id'], $data['quantity'], 0, array() ) ) {
			$notices = $GLOBALS['scripthammer_standin_notices'] ?? array();
			throw new Automattic\WooCommerce\StoreApi\Exceptions\RouteException( 'woocommerce_rest_add_to_cart_error', $notices ? end( $notices )[1] : 'Cannot add.', 400 );
		}
		WC()->cart->put( $data['id'], $data['quantity'], $data['cart_item_data'] );
		return scripthammer_standin_store_response( scripthammer_standin_store_cart_data(), 201 );
	} catch ( Automattic\WooCommerce\StoreApi\Exceptions\RouteException $e ) {
		return new WP_Error( $e->getErrorCode(), $e->getMessage(), array( 'status' => $e->getCode() ) );
	} catch ( Exception $e ) {
		return new WP_Error( 'woocommerce_rest_unknown_server_error', $e->getMessage(), array( 'status' => 500 ) );
	}
}

/* ---------------------------------------------------------------- payment gateways */

class Scripthammer_Standin_Gateway {
	public $enabled;
	public function __construct( public string $id, private array $features ) {
		$settings      = get_option( 'woocommerce_' . $id . '_settings', array() );
		$this->enabled = $settings['enabled'] ?? 'no';
	}
	public function supports( $feature ) { return in_array( $feature, $this->features, true ); }
}

class Scripthammer_Standin_Gateways {
	public static function instance() { return new self(); }
	/** The manual gateways WooCommerce ships: none supports subscriptions. */
	public function payment_gateways() {
		$out = array();
		foreach ( array( 'bacs', 'cheque', 'cod' ) as $id ) {
			$out[ $id ] = new Scripthammer_Standin_Gateway( $id, array( 'products' ) );
		}
		return $out;
	}
	public function get_available_payment_gateways() {
		return array_filter( $this->payment_gateways(), static fn( $g ) => 'yes' === $g->enabled );
	}
}

/* ---------------------------------------------------------------- orders */

class Scripthammer_Standin_Item {
	public function __construct( public array $row ) {}
	public function get_id() { return (int) ( $this->row['id'] ?? 0 ); }
	public function get_product_id() { return (int) $this->row['product_id']; }
	/** As WC_Data: line item meta (hidden when the key starts with an underscore; not in REST's meta_data then). */
	public function get_meta( $k ) { return $this->row['meta'][ $k ] ?? ''; }
	public function add_meta_data( $k, $v, $unique = false ) { $this->row['meta'][ $k ] = $v; }
}

class Scripthammer_Standin_Order {
	protected string $post_type = 'shop_order';
	public function __construct( public int $id ) {}
	public function get_id() { return $this->id; }
	public function get_customer_id() { return (int) get_post_meta( $this->id, '_customer_user', true ); }
	public function set_customer_id( $id ) { update_post_meta( $this->id, '_customer_user', (int) $id ); }
	public function get_user_id() { return $this->get_customer_id(); }
	public function rows(): array { return (array) get_post_meta( $this->id, '_standin_items', true ); }
	public function get_items() { return array_map( static fn( $r ) => new Scripthammer_Standin_Item( $r ), $this->rows() ); }
	public function get_item( $id ) {
		foreach ( $this->rows() as $r ) {
			if ( (int) $r['id'] === (int) $id ) {
				return new Scripthammer_Standin_Item( $r );
			}
		}
		return false;
	}
	public function add_product( $product, $qty = 1, $args = array(), array $meta = array() ) {
		$rows   = $this->rows();
		$rows[] = array( 'id' => count( $rows ) + 1000 * $this->id, 'product_id' => $product->get_id(), 'name' => $product->get_name(), 'quantity' => (int) $qty, 'total' => (string) ( $args['total'] ?? $product->get_price() ), 'meta' => $meta );
		update_post_meta( $this->id, '_standin_items', $rows );
	}
	public function calculate_totals() { update_post_meta( $this->id, '_order_total', array_sum( array_map( static fn( $r ) => (float) $r['total'], $this->rows() ) ) ); }
	public function get_total() { return (float) get_post_meta( $this->id, '_order_total', true ); }
	public function set_payment_method( $m ) { update_post_meta( $this->id, '_payment_method', $m ); }
	public function get_status() { return (string) get_post_meta( $this->id, '_standin_status', true ); }
	public function has_status( $s ) { return in_array( $this->get_status(), (array) $s, true ); }
	public function get_meta( $k ) { return get_post_meta( $this->id, $k, true ); }
	public function update_meta_data( $k, $v ) { update_post_meta( $this->id, $k, $v ); }
	public function save() { return $this->id; }
	/** As WooCommerce: processing, or completed when every item is virtual and downloadable. */
	public function payment_complete() {
		update_post_meta( $this->id, '_date_paid', time() );
		$needs = false;
		foreach ( $this->rows() as $r ) {
			$p = wc_get_product( $r['product_id'] );
			$needs = $needs || ! ( $p && $p->is_virtual() && $p->is_downloadable() );
		}
		// As wc_maybe_reduce_stock_levels (on payment): managed stock goes down by each line's quantity.
		foreach ( $this->rows() as $r ) {
			$p = wc_get_product( $r['product_id'] );
			if ( $p && $p->managing_stock() ) {
				$p->set_stock_quantity( (int) $p->get_stock_quantity() - (int) $r['quantity'] );
				$p->save();
			}
		}
		$this->update_status( $needs ? 'processing' : 'completed' );
		do_action( 'woocommerce_payment_complete', $this->id );
		return true;
	}
	public function update_status( $status ) {
		$old = $this->get_status();
		update_post_meta( $this->id, '_standin_status', $status );
		scripthammer_standin_touch( $this->id );
		if ( 'completed' === $status ) {
			do_action( 'woocommerce_order_status_completed', $this->id );
		}
		scripthammer_standin_event( 'order', '' === $old ? 'created' : 'updated', $this->id );
	}
}

function scripthammer_standin_touch( int $id ): void {
	// Modification dates are whole seconds, like WooCommerce's; a change in the same second is the next one.
	$last = (int) get_post_meta( $id, '_standin_modified', true );
	update_post_meta( $id, '_standin_modified', max( time(), $last + 1 ) );
}

function wc_create_order( $args = array() ) {
	$id = (int) wp_insert_post( array( 'post_type' => 'shop_order', 'post_status' => 'private', 'post_title' => 'Stand-in order' ) );
	update_post_meta( $id, '_standin_order', 1 );
	update_post_meta( $id, '_standin_created', time() );
	update_post_meta( $id, '_customer_user', (int) ( $args['customer_id'] ?? 0 ) );
	update_post_meta( $id, '_standin_items', array() );
	return new Scripthammer_Standin_Order( $id );
}

function wc_get_order( $id ) {
	return get_post_meta( (int) $id, '_standin_order', true ) ? new Scripthammer_Standin_Order( (int) $id ) : false;
}

function wc_create_refund( $args ) {
	$order = wc_get_order( (int) $args['order_id'] );
	$order->update_status( 'refunded' );
	return $order;
}

function scripthammer_standin_checkout( int $customer_id ) {
	$cart = WC()->cart;
	$cart->calculate_totals();
	$order = wc_create_order( array( 'customer_id' => $customer_id ) );
	foreach ( $cart->get_cart() as $key => $item ) {
		// As WC_Checkout::create_order_line_items: the line, then woocommerce_checkout_create_order_line_item.
		$line = new Scripthammer_Standin_Item( array( 'meta' => array() ) );
		do_action( 'woocommerce_checkout_create_order_line_item', $line, $key, $item, $order );
		$order->add_product( $item['data'], $item['quantity'], array( 'total' => $item['data']->get_price() ), $line->row['meta'] );
	}
	$order->calculate_totals();
	$cart->empty_cart();
	return $order;
}

/** An order (or subscription) as WooCommerce's REST API v3 shows it, through the same filters. */
function scripthammer_standin_order_payload( int $id ) {
	$o = wc_get_order( $id );
	if ( ! $o ) {
		return new WP_Error( 'woocommerce_rest_shop_order_invalid_id', 'Invalid ID.', array( 'status' => 404 ) );
	}
	$gmt   = static fn( $t ) => $t ? gmdate( 'Y-m-d\TH:i:s', (int) $t ) : null;
	$items = array();
	foreach ( $o->rows() as $r ) {
		$items[] = array( 'id' => (int) $r['id'], 'name' => $r['name'], 'product_id' => (int) $r['product_id'], 'variation_id' => 0, 'quantity' => (int) $r['quantity'], 'tax_class' => '', 'subtotal' => $r['total'], 'subtotal_tax' => '0.00', 'total' => $r['total'], 'total_tax' => '0.00', 'taxes' => array(), 'meta_data' => array(), 'sku' => '', 'price' => (float) $r['total'] );
	}
	$paid = get_post_meta( $id, '_date_paid', true );
	$data = array(
		'id' => $id, 'parent_id' => 0, 'status' => $o->get_status(), 'currency' => 'USD', 'version' => '0.0.0-standin',
		'date_created' => $gmt( get_post_meta( $id, '_standin_created', true ) ), 'date_created_gmt' => $gmt( get_post_meta( $id, '_standin_created', true ) ),
		'date_modified' => $gmt( get_post_meta( $id, '_standin_modified', true ) ), 'date_modified_gmt' => $gmt( get_post_meta( $id, '_standin_modified', true ) ),
		'date_paid' => $gmt( $paid ), 'date_paid_gmt' => $gmt( $paid ), 'date_completed' => null, 'date_completed_gmt' => null,
		'total' => number_format( $o->get_total(), 2, '.', '' ), 'customer_id' => $o->get_customer_id(), 'billing' => array(), 'shipping' => array(),
		'payment_method' => (string) get_post_meta( $id, '_payment_method', true ), 'line_items' => $items, 'refunds' => array(), 'meta_data' => array(),
	);
	$kind = (string) get_post_meta( $id, '_standin_kind', true );
	if ( 'subscription' === $kind ) {
		foreach ( array( 'start', 'next_payment', 'end', 'trial_end', 'last_payment', 'cancelled' ) as $d ) {
			$data[ $d . '_date_gmt' ] = (string) $gmt( get_post_meta( $id, '_standin_date_' . $d, true ) );
		}
		$data['billing_period']   = 'month';
		$data['billing_interval'] = '1';
	}
	$post_type = 'subscription' === $kind ? 'shop_subscription' : 'shop_order';
	$response  = apply_filters( "woocommerce_rest_prepare_{$post_type}_object", new WP_REST_Response( $data ), $o, new WP_REST_Request( 'GET' ) );
	return $response->get_data();
}

/** GET /wc/v3/orders (and /subscriptions): paged like WooCommerce (X-WP-Total, X-WP-TotalPages), modified_after. */
function scripthammer_standin_collection( string $kind, WP_REST_Request $r ) {
	$query = array( array( 'key' => '_standin_kind', 'compare' => 'NOT EXISTS' ) );
	if ( 'subscription' === $kind ) {
		$query = array( array( 'key' => '_standin_kind', 'value' => 'subscription' ) );
	}
	$ids  = get_posts( array( 'post_type' => 'shop_order', 'post_status' => 'private', 'posts_per_page' => -1, 'fields' => 'ids', 'orderby' => 'ID', 'order' => 'ASC', 'meta_query' => $query ) );
	$docs = array_map( 'scripthammer_standin_order_payload', $ids );
	if ( $r['modified_after'] ) {
		$after = (string) $r['modified_after'];
		$docs  = array_values( array_filter( $docs, static fn( $d ) => (string) $d['date_modified_gmt'] > $after ) );
	}
	$per  = max( 1, (int) ( $r['per_page'] ?: 10 ) );
	$page = max( 1, (int) ( $r['page'] ?: 1 ) );
	$resp = new WP_REST_Response( array_slice( $docs, ( $page - 1 ) * $per, $per ) );
	$resp->header( 'X-WP-Total', (string) count( $docs ) );
	$resp->header( 'X-WP-TotalPages', (string) max( 1, (int) ceil( count( $docs ) / $per ) ) );
	return $resp;
}

/* ---------------------------------------------------------------- REST API keys (OAuth 1.0a over HTTP, as WooCommerce) */

function scripthammer_standin_api_key(): array {
	$key = array( 'ck_' . md5( wp_generate_password( 20, false ) ), 'cs_' . md5( wp_generate_password( 20, false ) ) );
	update_option( 'scripthammer_standin_api_key', $key );
	return $key;
}

function scripthammer_standin_rfc3986( $v ) {
	return str_replace( array( '+', '%7E' ), array( ' ', '~' ), rawurlencode( (string) $v ) );
}

/** WC_REST_Authentication::check_oauth_signature, for the stand-in's one key. */
function scripthammer_standin_oauth( WP_REST_Request $request ) {
	$key    = get_option( 'scripthammer_standin_api_key' );
	$params = $_GET; // phpcs:ignore
	if ( ! is_array( $key ) || ( $params['oauth_consumer_key'] ?? '' ) !== $key[0] || empty( $params['oauth_signature'] ) ) {
		return new WP_Error( 'woocommerce_rest_authentication_error', 'Consumer key is invalid.', array( 'status' => 401 ) );
	}
	if ( abs( time() - (int) ( $params['oauth_timestamp'] ?? 0 ) ) > 15 * MINUTE_IN_SECONDS ) {
		return new WP_Error( 'woocommerce_rest_authentication_error', 'Invalid timestamp.', array( 'status' => 401 ) );
	}
	$given = rawurldecode( str_replace( ' ', '+', $params['oauth_signature'] ) );
	unset( $params['oauth_signature'] );
	uksort( $params, 'strcmp' );
	$pairs = array();
	foreach ( $params as $k => $v ) {
		$pairs[] = scripthammer_standin_rfc3986( scripthammer_standin_rfc3986( $k ) . '=' . scripthammer_standin_rfc3986( $v ) );
	}
	$path = wp_parse_url( $_SERVER['REQUEST_URI'], PHP_URL_PATH ); // phpcs:ignore
	$base = rawurlencode( home_url( $path ) );
	$algo = strtolower( str_replace( 'HMAC-', '', (string) ( $params['oauth_signature_method'] ?? '' ) ) );
	if ( ! in_array( $algo, array( 'sha1', 'sha256' ), true ) ) {
		return new WP_Error( 'woocommerce_rest_authentication_error', 'Invalid signature - signature method is invalid.', array( 'status' => 401 ) );
	}
	$expected = base64_encode( hash_hmac( $algo, $_SERVER['REQUEST_METHOD'] . '&' . $base . '&' . implode( '%26', $pairs ), $key[1] . '&', true ) ); // phpcs:ignore
	if ( ! hash_equals( $expected, $given ) ) {
		return new WP_Error( 'woocommerce_rest_authentication_error', 'Invalid signature - provided signature does not match.', array( 'status' => 401 ) );
	}
	return true;
}

/* ---------------------------------------------------------------- webhooks (WC_Webhook, delivered as WooCommerce does) */

class WC_Webhook {
	private int $id = 0;
	private array $props = array( 'name' => '', 'status' => 'disabled', 'topic' => '', 'delivery_url' => '', 'secret' => '', 'api_version' => 3, 'user_id' => 0, 'pending_delivery' => false, 'failure_count' => 0 );

	public function __construct( $id = 0 ) {
		if ( $id ) {
			$all = get_option( 'scripthammer_standin_webhooks', array() );
			if ( ! isset( $all[ (int) $id ] ) ) {
				throw new Exception( 'Invalid webhook.' );
			}
			$this->id    = (int) $id;
			$this->props = $all[ $this->id ];
		}
	}
	public function get_id() { return $this->id; }
	public function get_name( $c = 'view' ) { return $this->props['name']; }
	public function set_name( $v ) { $this->props['name'] = $v; }
	public function get_status( $c = 'view' ) { return $this->props['status']; }
	public function set_status( $v ) { $this->props['status'] = $v; }
	public function get_topic( $c = 'view' ) { return $this->props['topic']; }
	public function set_topic( $v ) { $this->props['topic'] = scripthammer_standin_valid_topic( $v ) ? $v : ''; }
	public function get_delivery_url( $c = 'view' ) { return $this->props['delivery_url']; }
	public function set_delivery_url( $v ) { $this->props['delivery_url'] = esc_url_raw( $v, array( 'http', 'https' ) ); }
	public function get_secret( $c = 'view' ) { return $this->props['secret']; }
	public function set_secret( $v ) { $this->props['secret'] = $v; }
	public function get_api_version( $c = 'view' ) { return 'wp_api_v' . (int) $this->props['api_version']; }
	public function set_api_version( $v ) { $this->props['api_version'] = (int) str_replace( 'wp_api_v', '', (string) $v ); }
	public function get_user_id( $c = 'view' ) { return (int) $this->props['user_id']; }
	public function set_user_id( $v ) { $this->props['user_id'] = (int) $v; }
	public function set_pending_delivery( $v ) { $this->props['pending_delivery'] = (bool) $v; }
	public function get_failure_count( $c = 'view' ) { return (int) $this->props['failure_count']; }
	public function set_failure_count( $v ) { $this->props['failure_count'] = (int) $v; }
	public function get_resource() { return explode( '.', $this->props['topic'] )[0]; }
	public function save() {
		$all = get_option( 'scripthammer_standin_webhooks', array() );
		if ( ! $this->id ) {
			$this->id = $all ? max( array_keys( $all ) ) + 1 : 1;
		}
		$all[ $this->id ] = $this->props;
		update_option( 'scripthammer_standin_webhooks', $all );
		return $this->id;
	}
	public function delete( $force = false ) {
		$all = get_option( 'scripthammer_standin_webhooks', array() );
		unset( $all[ $this->id ] );
		update_option( 'scripthammer_standin_webhooks', $all );
	}
	public function build_payload( $resource_id ) {
		$event   = explode( '.', $this->props['topic'] )[1] ?? '';
		$payload = 'deleted' === $event ? array( 'id' => (int) $resource_id ) : scripthammer_standin_order_payload( (int) $resource_id );
		return apply_filters( 'woocommerce_webhook_payload', $payload, $this->get_resource(), $resource_id, $this->id );
	}
	/** WC_Webhook::generate_signature: base64 of HMAC-SHA256 of the body with the secret. */
	public function generate_signature( $payload ) {
		return base64_encode( hash_hmac( 'sha256', $payload, wp_specialchars_decode( $this->props['secret'], ENT_QUOTES ), true ) );
	}
	/** WC_Webhook::deliver: POST the JSON body, with WooCommerce's headers, through wp_safe_remote_request. */
	public function deliver( $resource_id ) {
		$body     = trim( wp_json_encode( $this->build_payload( $resource_id ) ) );
		$response = wp_safe_remote_request(
			$this->props['delivery_url'],
			array(
				'method' => 'POST', 'timeout' => 60, 'redirection' => 0, 'body' => $body,
				'headers' => array(
					'Content-Type' => 'application/json',
					'X-WC-Webhook-Source' => home_url( '/' ), 'X-WC-Webhook-Topic' => $this->props['topic'],
					'X-WC-Webhook-Resource' => $this->get_resource(), 'X-WC-Webhook-Event' => explode( '.', $this->props['topic'] )[1] ?? '',
					'X-WC-Webhook-Signature' => $this->generate_signature( $body ), 'X-WC-Webhook-ID' => $this->id,
					'X-WC-Webhook-Delivery-ID' => wp_hash( $this->id . strtotime( 'now' ) ),
				),
			)
		);
		$code = (int) wp_remote_retrieve_response_code( $response );
		$this->props['failure_count'] = ( $code >= 200 && $code < 300 ) ? 0 : $this->props['failure_count'] + 1;
		if ( $this->props['failure_count'] > 5 ) {
			$this->props['status'] = 'disabled';
		}
		$this->save();
		$GLOBALS['scripthammer_standin_deliveries'][] = array( $this->props['topic'], $resource_id, $code );
	}
}

function scripthammer_standin_valid_topic( $topic ): bool {
	$resources = apply_filters( 'woocommerce_valid_webhook_resources', array( 'coupon', 'customer', 'order', 'product' ) );
	return in_array( explode( '.', (string) $topic )[0], $resources, true );
}

/** Deliver an event to every active webhook of its topic, at once (WooCommerce queues and sends them). */
function scripthammer_standin_event( string $resource, string $event, int $id ): void {
	foreach ( array_keys( get_option( 'scripthammer_standin_webhooks', array() ) ) as $hook_id ) {
		$hook = new WC_Webhook( $hook_id );
		if ( 'active' === $hook->get_status() && $hook->get_topic() === $resource . '.' . $event ) {
			$hook->deliver( $id );
		}
	}
}
