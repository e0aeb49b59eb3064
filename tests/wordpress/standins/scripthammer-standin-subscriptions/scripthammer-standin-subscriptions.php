<?php
/**
 * Plugin Name: ScriptHammer TEST STAND-IN for WooCommerce Subscriptions (not WooCommerce Subscriptions)
 * Description: Only the Subscriptions classes, functions, REST route and webhook topics the ScriptHammer plugin and its tests use, for tests without the real plugin.
 * Version: 0.0.0-standin
 */

defined( 'ABSPATH' ) || exit;

// phpcs:disable -- test stand-in

add_action( 'plugins_loaded', static function () {
	if ( ! class_exists( 'WC_Product_Simple' ) || ! class_exists( 'Scripthammer_Standin_Order' ) ) {
		return;
	}
	class WC_Subscriptions {}
	class WC_Product_Subscription extends WC_Product_Simple {
		public function get_type() { return 'subscription'; }
	}
	/** A subscription: an order of kind "subscription" with dates, whose status changes fire Subscriptions' hooks. */
	class Scripthammer_Standin_Subscription extends Scripthammer_Standin_Order {
		public function update_dates( array $dates ) {
			foreach ( $dates as $type => $value ) {
				update_post_meta( $this->id, '_standin_date_' . $type, $value ? strtotime( $value . ' UTC' ) : '' );
			}
		}
		public function get_time( string $type ) { return (int) get_post_meta( $this->id, '_standin_date_' . $type, true ); }
		/** As WC_Subscription::update_status: the dates that go with the status, then the hooks. */
		public function update_status( $status ) {
			$old = $this->get_status();
			if ( 'pending-cancel' === $status ) {
				update_post_meta( $this->id, '_standin_date_end', $this->get_time( 'next_payment' ) ?: time() );
				update_post_meta( $this->id, '_standin_date_next_payment', '' );
			} elseif ( in_array( $status, array( 'cancelled', 'expired' ), true ) ) {
				update_post_meta( $this->id, '_standin_date_' . ( 'cancelled' === $status ? 'cancelled' : 'end' ), time() );
				if ( ! $this->get_time( 'end' ) ) {
					update_post_meta( $this->id, '_standin_date_end', time() );
				}
				update_post_meta( $this->id, '_standin_date_next_payment', '' );
			}
			update_post_meta( $this->id, '_standin_status', $status );
			scripthammer_standin_touch( $this->id );
			do_action( 'woocommerce_subscription_status_updated', $this, $status, $old );
			scripthammer_standin_event( 'subscription', in_array( $old, array( '', 'pending' ), true ) ? 'created' : 'updated', $this->id );
		}
	}
}, 5 );

add_filter( 'woocommerce_valid_webhook_resources', static fn( $r ) => array_merge( (array) $r, array( 'subscription' ) ) );

add_action( 'rest_api_init', static function () {
	register_rest_route( 'wc/v3', '/subscriptions', array( 'methods' => 'GET', 'permission_callback' => 'scripthammer_standin_oauth', 'callback' => static fn( $r ) => scripthammer_standin_collection( 'subscription', $r ) ) );
} );

function wcs_create_subscription( $args ) {
	$order = wc_create_order( array( 'customer_id' => (int) ( $args['customer_id'] ?? 0 ) ) );
	update_post_meta( $order->get_id(), '_standin_kind', 'subscription' );
	update_post_meta( $order->get_id(), '_standin_status', 'pending' );
	update_post_meta( $order->get_id(), '_standin_date_start', isset( $args['start_date'] ) ? strtotime( $args['start_date'] . ' UTC' ) : time() );
	return new Scripthammer_Standin_Subscription( $order->get_id() );
}

function wcs_get_subscription( $id ) {
	return 'subscription' === get_post_meta( (int) $id, '_standin_kind', true ) ? new Scripthammer_Standin_Subscription( (int) $id ) : false;
}

function wcs_user_has_subscription( $user_id = 0, $product_id = '', $status = 'any' ) {
	$ids = get_posts( array( 'post_type' => 'shop_order', 'post_status' => 'private', 'posts_per_page' => -1, 'fields' => 'ids', 'meta_key' => '_standin_kind', 'meta_value' => 'subscription' ) );
	foreach ( $ids as $id ) {
		$s = wcs_get_subscription( $id );
		if ( $s->get_customer_id() !== (int) $user_id ) {
			continue;
		}
		if ( 'any' !== $status && ! $s->has_status( $status ) ) {
			continue;
		}
		if ( $product_id && ! in_array( (int) $product_id, array_map( static fn( $r ) => (int) $r['product_id'], $s->rows() ), true ) ) {
			continue;
		}
		return true;
	}
	return false;
}
