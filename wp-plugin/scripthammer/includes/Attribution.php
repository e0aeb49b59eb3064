<?php
/**
 * Tips and purchases attributed to a play. The player's tip jar and its buy, unlock and subscribe links
 * carry sh_play=<player session>.<track id> (pseudonymous: the player's random session, never the fan).
 * This class keeps it through WooCommerce's checkout: from the add-to-cart request (or, when the link
 * led to a product page first, a short-lived cookie set on that page) onto the cart item, the order line
 * (meta _scripthammer_play) and the order's REST document, and so its webhook body
 * (line_items[].scripthammer_play, with scripthammer_kind "tip" or "purchase"). The companion checks the
 * attribution against the plays it recorded (companion/analytics/attribution.py): a forged one counts
 * nothing, and never stops an order.
 *
 * @package ScriptHammer
 */

namespace ScriptHammer;

defined( 'ABSPATH' ) || exit;

/**
 * The play attribution of cart items and order lines.
 */
final class Attribution {

	/** The query argument (and form field) the player adds to its links. */
	public const QUERY_ARG = 'sh_play';
	/** The cart item key, and (with an underscore: hidden) the order line's meta key. */
	public const CART_KEY = 'scripthammer_play';
	public const META_KEY = '_scripthammer_play';
	/** The cookie that carries it from a product page to the add-to-cart request (one day). */
	public const COOKIE = 'scripthammer_play';

	/**
	 * A well-formed attribution ("<session>.<track id>", the session as the beacons accept it), or "".
	 *
	 * @param mixed $raw The submitted value.
	 */
	public static function clean( $raw ): string {
		if ( ! is_string( $raw ) ) {
			return '';
		}
		$raw = trim( $raw );
		return 1 === preg_match( '/^[A-Za-z0-9_-]{8,64}\.[1-9][0-9]{0,9}$/', $raw ) ? $raw : '';
	}

	/**
	 * The attribution of this request: its sh_play argument, else the cookie a product page set (used once:
	 * the cookie is cleared, so that a later, unrelated add-to-cart is not credited to that play).
	 */
	public static function requested(): string {
		// phpcs:disable WordPress.Security.NonceVerification -- an add-to-cart link from the player (no nonce); validated by its shape here and by the companion.
		$raw = isset( $_REQUEST[ self::QUERY_ARG ] ) ? sanitize_text_field( wp_unslash( $_REQUEST[ self::QUERY_ARG ] ) ) : '';
		// phpcs:enable WordPress.Security.NonceVerification
		$token = self::clean( $raw );
		if ( '' === $token && isset( $_COOKIE[ self::COOKIE ] ) ) {
			$token = self::clean( sanitize_text_field( wp_unslash( $_COOKIE[ self::COOKIE ] ) ) );
			unset( $_COOKIE[ self::COOKIE ] );
			if ( ! headers_sent() ) {
				setcookie( self::COOKIE, '', time() - HOUR_IN_SECONDS, defined( 'COOKIEPATH' ) && COOKIEPATH ? COOKIEPATH : '/' );
			}
		}
		return $token;
	}

	/**
	 * Action template_redirect: a page opened from the player's buy, unlock or subscribe link remembers the
	 * attribution in a cookie for a day, so that the add-to-cart on that page keeps it.
	 */
	public static function remember(): void {
		// phpcs:ignore WordPress.Security.NonceVerification -- a link from the player; validated by its shape.
		$token = isset( $_GET[ self::QUERY_ARG ] ) ? self::clean( sanitize_text_field( wp_unslash( $_GET[ self::QUERY_ARG ] ) ) ) : '';
		if ( '' === $token || headers_sent() ) {
			return;
		}
		setcookie(
			self::COOKIE,
			$token,
			array(
				'expires'  => time() + DAY_IN_SECONDS,
				'path'     => defined( 'COOKIEPATH' ) && COOKIEPATH ? COOKIEPATH : '/',
				'secure'   => is_ssl(),
				'httponly' => true,
				'samesite' => 'Lax',
			)
		);
		$_COOKIE[ self::COOKIE ] = $token;
	}

	/**
	 * Filter woocommerce_add_cart_item_data: keep the attribution on the cart item.
	 *
	 * @param array<string,mixed> $data Cart item data.
	 * @return array<string,mixed>
	 */
	public static function add_cart_item_data( $data ) {
		$data  = is_array( $data ) ? $data : array();
		$token = isset( $data[ self::CART_KEY ] ) ? self::clean( $data[ self::CART_KEY ] ) : self::requested();
		if ( '' !== $token ) {
			$data[ self::CART_KEY ] = $token;
		} else {
			unset( $data[ self::CART_KEY ] );
		}
		return $data;
	}

	/**
	 * Filter woocommerce_store_api_add_to_cart_data: the Store API's add-item takes it as the request
	 * parameter sh_play.
	 *
	 * @param array<string,mixed> $data    id, quantity, variation, cart_item_data.
	 * @param \WP_REST_Request    $request The Store API request.
	 * @return array<string,mixed>
	 */
	public static function store_api_add_to_cart_data( $data, $request ) {
		$token = is_object( $request ) ? self::clean( $request->get_param( self::QUERY_ARG ) ) : '';
		if ( '' !== $token ) {
			$data                                     = is_array( $data ) ? $data : array();
			$data['cart_item_data']                   = (array) ( $data['cart_item_data'] ?? array() );
			$data['cart_item_data'][ self::CART_KEY ] = $token;
		}
		return $data;
	}

	/**
	 * Filter woocommerce_get_cart_item_from_session: restore it.
	 *
	 * @param array<string,mixed> $item   Cart item.
	 * @param array<string,mixed> $values Session values.
	 * @return array<string,mixed>
	 */
	public static function cart_item_from_session( $item, $values ) {
		$token = isset( $values[ self::CART_KEY ] ) ? self::clean( $values[ self::CART_KEY ] ) : '';
		if ( '' !== $token ) {
			$item[ self::CART_KEY ] = $token;
		}
		return $item;
	}

	/**
	 * Action woocommerce_checkout_create_order_line_item: the order line keeps it (hidden meta).
	 *
	 * @param object              $item   The WC_Order_Item_Product.
	 * @param string              $key    Cart item key.
	 * @param array<string,mixed> $values Cart item.
	 */
	public static function order_line_item( $item, $key, $values ): void {
		$token = is_array( $values ) && isset( $values[ self::CART_KEY ] ) ? self::clean( $values[ self::CART_KEY ] ) : '';
		if ( '' !== $token && is_object( $item ) && method_exists( $item, 'add_meta_data' ) ) {
			$item->add_meta_data( self::META_KEY, $token, true );
		}
	}

	/**
	 * Filter woocommerce_rest_prepare_shop_order_object (REST responses and so webhook bodies): each line
	 * with an attribution says it (scripthammer_play) and what it is (scripthammer_kind: tip or purchase).
	 *
	 * @param \WP_REST_Response|mixed $response The response.
	 * @param object|mixed            $order    The order.
	 * @return \WP_REST_Response|mixed
	 */
	public static function annotate_line_items( $response, $order = null ) {
		if ( ! is_object( $response ) || ! is_object( $order ) || ! method_exists( $order, 'get_item' )
			|| ! isset( $response->data['line_items'] ) || ! is_array( $response->data['line_items'] ) ) {
			return $response;
		}
		$data = $response->get_data();
		foreach ( $data['line_items'] as $i => $line ) {
			$item  = $order->get_item( (int) ( $line['id'] ?? 0 ) );
			$token = is_object( $item ) && method_exists( $item, 'get_meta' ) ? self::clean( $item->get_meta( self::META_KEY ) ) : '';
			if ( '' === $token ) {
				continue;
			}
			$data['line_items'][ $i ]['scripthammer_play'] = $token;
			$data['line_items'][ $i ]['scripthammer_kind'] = Commerce::is_tip( (int) ( $line['product_id'] ?? 0 ) ) ? 'tip' : 'purchase';
		}
		$response->set_data( $data );
		return $response;
	}
}
