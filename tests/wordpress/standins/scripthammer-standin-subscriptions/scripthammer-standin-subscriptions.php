<?php
/**
 * Plugin Name: ScriptHammer TEST STAND-IN for WooCommerce Subscriptions (not WooCommerce Subscriptions)
 * Description: Only the Subscriptions classes and functions the ScriptHammer plugin calls, for tests without the real plugin.
 * Version: 0.0.0-standin
 */

defined( 'ABSPATH' ) || exit;

// phpcs:disable -- test stand-in

add_action( 'plugins_loaded', static function () {
	if ( ! class_exists( 'WC_Product_Simple' ) ) {
		return;
	}
	class WC_Subscriptions {}
	class WC_Product_Subscription extends WC_Product_Simple {
		public function get_type() { return 'subscription'; }
	}
	class Scripthammer_Standin_Subscription {
		public function __construct( public array $args ) {}
		public function add_product( $product ) { $this->args['product_id'] = $product->get_id(); }
		public function update_status( $status ) {
			$all   = get_option( 'scripthammer_standin_subscriptions', array() );
			$all[] = array( 'user' => (int) $this->args['customer_id'], 'product' => (int) $this->args['product_id'], 'status' => $status );
			update_option( 'scripthammer_standin_subscriptions', $all );
		}
	}
}, 5 );

function wcs_create_subscription( $args ) {
	return new Scripthammer_Standin_Subscription( $args );
}

function wcs_user_has_subscription( $user_id = 0, $product_id = '', $status = 'any' ) {
	foreach ( (array) get_option( 'scripthammer_standin_subscriptions', array() ) as $s ) {
		if ( (int) $s['user'] === (int) $user_id && ( ! $product_id || (int) $s['product'] === (int) $product_id ) && ( 'any' === $status || $s['status'] === $status ) ) {
			return true;
		}
	}
	return false;
}
