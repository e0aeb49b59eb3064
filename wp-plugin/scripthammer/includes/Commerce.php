<?php
/**
 * WooCommerce, when it is active: a tip product (the fan names the amount, checked here on the
 * server against the band's minimum and maximum) and a fan subscription product (a real
 * subscription with WooCommerce Subscriptions, otherwise a fixed-term membership).
 * Products are created once WooCommerce has initialised, idempotently.
 *
 * @package ScriptHammer
 */

namespace ScriptHammer;

defined( 'ABSPATH' ) || exit;

/**
 * Tip jar and fan subscription.
 */
final class Commerce {

	public const DUE_OPTION          = 'scripthammer_products_due';
	public const TIP_OPTION          = 'scripthammer_tip_product_id';
	public const SUBSCRIPTION_OPTION = 'scripthammer_subscription_product_id';
	public const PRODUCT_META        = '_scripthammer_product';
	public const AMOUNT_FIELD        = 'scripthammer_tip_amount';
	public const CART_KEY            = 'scripthammer_tip';
	public const MEMBERSHIP_META     = 'scripthammer_membership_until';

	/**
	 * Is WooCommerce loaded?
	 */
	public static function woocommerce_active(): bool {
		return class_exists( 'WooCommerce' ) && function_exists( 'WC' ) && function_exists( 'wc_get_product' );
	}

	/**
	 * Is WooCommerce Subscriptions loaded?
	 */
	public static function subscriptions_active(): bool {
		return self::woocommerce_active() && class_exists( 'WC_Product_Subscription' ) && function_exists( 'wcs_user_has_subscription' );
	}

	/**
	 * Parse a fan's tip amount; null unless it is a number with at most two decimals in [min, max].
	 *
	 * @param mixed $raw The submitted value ("7", "7.50", "7,50").
	 * @param float $min The band's minimum.
	 * @param float $max The band's maximum.
	 */
	public static function parse_tip_amount( $raw, float $min, float $max ): ?float {
		if ( ! is_scalar( $raw ) ) {
			return null;
		}
		$text = str_replace( ',', '.', trim( (string) $raw ) );
		if ( ! preg_match( '/^\d{1,7}(\.\d{1,2})?$/', $text ) ) {
			return null;
		}
		$amount = round( (float) $text, 2 );
		if ( $amount <= 0 || $amount < $min || $amount > $max ) {
			return null;
		}
		return $amount;
	}

	/**
	 * The band's tip limits.
	 *
	 * @return array{0:float,1:float}
	 */
	public static function tip_limits(): array {
		return array( (float) Settings::get( 'tip_min' ), (float) Settings::get( 'tip_max' ) );
	}

	/**
	 * What the fan subscription product is here: a real subscription, or a fixed-term membership.
	 */
	public static function subscription_kind(): string {
		return self::subscriptions_active() ? 'subscription' : 'membership';
	}

	/**
	 * On init, after WooCommerce's taxonomies (priority 20, so after woocommerce_init): create the
	 * products when activation said they are due. The product type is a term of a taxonomy that
	 * WooCommerce registers on init, so creating them on woocommerce_init itself would lose it.
	 */
	public static function create_products_when_due(): void {
		if ( self::woocommerce_active() && get_option( self::DUE_OPTION ) ) {
			self::ensure_products();
		}
	}

	/**
	 * On admin_init: create the products when due or missing.
	 */
	public static function maybe_create_products(): void {
		if ( ! self::woocommerce_active() ) {
			return;
		}
		if ( ! get_option( self::DUE_OPTION ) && self::product_ok( self::TIP_OPTION, 'tip' ) && self::product_ok( self::SUBSCRIPTION_OPTION, self::subscription_kind() ) ) {
			return;
		}
		self::ensure_products();
	}

	/**
	 * Is the product an option names still there, and of this kind?
	 *
	 * @param string $option The option holding its id.
	 * @param string $kind   tip, subscription or membership.
	 */
	private static function product_ok( string $option, string $kind ): bool {
		$id     = (int) get_option( $option, 0 );
		$status = $id > 0 ? get_post_status( $id ) : false;
		return $status && 'trash' !== $status && get_post_meta( $id, self::PRODUCT_META, true ) === $kind;
	}

	/**
	 * Create the tip and subscription products unless they exist (idempotent).
	 *
	 * @return array{tip:int,subscription:int}
	 */
	public static function ensure_products(): array {
		if ( ! self::woocommerce_active() ) {
			return array(
				'tip'          => 0,
				'subscription' => 0,
			);
		}
		$ids = array(
			'tip'          => self::ensure_product( 'tip', self::TIP_OPTION ),
			'subscription' => self::ensure_product( self::subscription_kind(), self::SUBSCRIPTION_OPTION ),
		);
		update_option( self::DUE_OPTION, 0, true );
		return $ids;
	}

	/**
	 * One product: the stored id, else one marked with our meta, else a new one. A product of the
	 * other kind (a membership once WooCommerce Subscriptions arrives) is taken off sale.
	 *
	 * @param string $kind   tip, subscription or membership.
	 * @param string $option The option that keeps its id.
	 */
	private static function ensure_product( string $kind, string $option ): int {
		if ( self::product_ok( $option, $kind ) ) {
			return (int) get_option( $option );
		}
		$previous = (int) get_option( $option, 0 );
		if ( $previous > 0 && 'publish' === get_post_status( $previous ) ) {
			wp_update_post(
				array(
					'ID'          => $previous,
					'post_status' => 'draft',
				)
			);
		}
		$found = get_posts(
			array(
				'post_type'      => 'product',
				'post_status'    => array( 'publish', 'private' ),
				'posts_per_page' => 1,
				'fields'         => 'ids',
				'orderby'        => 'ID',
				'order'          => 'ASC',
				'meta_key'       => self::PRODUCT_META, // phpcs:ignore WordPress.DB.SlowDBQuery
				'meta_value'     => $kind, // phpcs:ignore WordPress.DB.SlowDBQuery
			)
		);
		$id = $found ? (int) $found[0] : ( 'tip' === $kind ? self::create_tip_product() : self::create_subscription_product( $kind ) );
		if ( $id > 0 ) {
			update_option( $option, $id, false );
		}
		return $id;
	}

	/**
	 * The tip product: virtual, hidden from the shop (the tip jar sells it), price set per cart item.
	 */
	private static function create_tip_product(): int {
		[ $min ] = self::tip_limits();
		$product = new \WC_Product_Simple();
		$product->set_name( __( 'Tip the band', 'scripthammer' ) );
		$product->set_status( 'publish' );
		$product->set_catalog_visibility( 'hidden' );
		$product->set_virtual( true );
		$product->set_sold_individually( true );
		$product->set_regular_price( (string) $min );
		$product->set_description( __( 'Say thanks to ScriptHammer with an amount of your choice.', 'scripthammer' ) );
		$product->update_meta_data( self::PRODUCT_META, 'tip' );
		return (int) $product->save();
	}

	/**
	 * The fan subscription: monthly with WooCommerce Subscriptions, otherwise a membership of N days.
	 *
	 * @param string $kind subscription or membership.
	 */
	private static function create_subscription_product( string $kind ): int {
		$price = (string) Settings::get( 'subscription_price' );
		if ( 'subscription' === $kind ) {
			$product = new \WC_Product_Subscription();
			$product->set_name( __( 'ScriptHammer fan subscription', 'scripthammer' ) );
			$product->update_meta_data( '_subscription_price', $price );
			$product->update_meta_data( '_subscription_period', 'month' );
			$product->update_meta_data( '_subscription_period_interval', '1' );
			$product->update_meta_data( '_subscription_length', '0' );
			$product->update_meta_data( '_subscription_trial_length', '0' );
			$product->update_meta_data( '_subscription_sign_up_fee', '0' );
		} else {
			$days    = (int) Settings::get( 'membership_days' );
			$product = new \WC_Product_Simple();
			/* translators: %d: number of days */
			$product->set_name( sprintf( __( 'ScriptHammer fan membership (%d days)', 'scripthammer' ), $days ) );
			$product->update_meta_data( '_scripthammer_membership_days', $days );
		}
		$product->set_status( 'publish' );
		$product->set_virtual( true );
		$product->set_regular_price( $price );
		$product->update_meta_data( self::PRODUCT_META, $kind );
		$id = (int) $product->save();
		if ( $id > 0 && 'subscription' === $kind ) {
			// The product type lives in a term; make sure it is set even when the term is new here.
			wp_set_object_terms( $id, 'subscription', 'product_type' );
			if ( function_exists( 'wc_delete_product_transients' ) ) {
				wc_delete_product_transients( $id );
			}
		}
		return $id;
	}

	/**
	 * Is this product the tip product?
	 *
	 * @param int $product_id The product.
	 */
	public static function is_tip( int $product_id ): bool {
		return $product_id > 0 && 'tip' === get_post_meta( $product_id, self::PRODUCT_META, true );
	}

	/**
	 * The fan's amount from the request (form field), validated; null when missing or out of range.
	 */
	private static function requested_amount(): ?float {
		// phpcs:ignore WordPress.Security.NonceVerification -- WooCommerce's add-to-cart has no nonce; the amount is validated here.
		$raw     = isset( $_REQUEST[ self::AMOUNT_FIELD ] ) ? sanitize_text_field( wp_unslash( $_REQUEST[ self::AMOUNT_FIELD ] ) ) : null;
		[ $min, $max ] = self::tip_limits();
		return null === $raw ? null : self::parse_tip_amount( $raw, $min, $max );
	}

	/**
	 * Filter woocommerce_add_to_cart_validation: refuse a tip without a valid amount.
	 *
	 * @param bool $passed     Valid so far.
	 * @param int  $product_id Product.
	 * @return bool
	 */
	public static function validate_add_to_cart( $passed, $product_id ) {
		if ( ! self::is_tip( (int) $product_id ) ) {
			return $passed;
		}
		if ( null === self::requested_amount() ) {
			[ $min, $max ] = self::tip_limits();
			if ( function_exists( 'wc_add_notice' ) ) {
				wc_add_notice(
					sprintf(
						/* translators: 1: minimum, 2: maximum */
						__( 'Choose a tip between %1$s and %2$s.', 'scripthammer' ),
						function_exists( 'wc_price' ) ? wp_strip_all_tags( wc_price( $min ) ) : (string) $min,
						function_exists( 'wc_price' ) ? wp_strip_all_tags( wc_price( $max ) ) : (string) $max
					),
					'error'
				);
			}
			return false;
		}
		return $passed;
	}

	/**
	 * Filter woocommerce_add_cart_item_data: remember the fan's amount on the cart item. This runs
	 * inside WC_Cart::add_to_cart for every way into the cart (form, AJAX, REST, code), so a tip
	 * without a valid amount is refused here too: WooCommerce turns the exception into a notice
	 * and adds nothing.
	 *
	 * @param array<string,mixed> $data       Cart item data.
	 * @param int                 $product_id Product.
	 * @return array<string,mixed>
	 * @throws \Exception When the tip amount is missing or outside the band's limits.
	 */
	public static function add_cart_item_data( $data, $product_id ) {
		if ( self::is_tip( (int) $product_id ) ) {
			$amount = self::requested_amount();
			if ( null === $amount ) {
				[ $min, $max ] = self::tip_limits();
				/* translators: 1: minimum, 2: maximum */
				throw new \Exception( esc_html( sprintf( __( 'Choose a tip between %1$s and %2$s.', 'scripthammer' ), number_format_i18n( $min, 2 ), number_format_i18n( $max, 2 ) ) ) );
			}
			$data[ self::CART_KEY ] = $amount;
		}
		return $data;
	}

	/**
	 * Filter woocommerce_get_cart_item_from_session: restore the amount.
	 *
	 * @param array<string,mixed> $item   Cart item.
	 * @param array<string,mixed> $values Session values.
	 * @return array<string,mixed>
	 */
	public static function cart_item_from_session( $item, $values ) {
		if ( isset( $values[ self::CART_KEY ] ) ) {
			$item[ self::CART_KEY ] = (float) $values[ self::CART_KEY ];
		}
		return $item;
	}

	/**
	 * Action woocommerce_before_calculate_totals: the tip's price is the fan's amount (checked again).
	 *
	 * @param object $cart The WC_Cart.
	 */
	public static function apply_tip_prices( $cart ): void {
		if ( ! is_object( $cart ) || ! method_exists( $cart, 'get_cart' ) ) {
			return;
		}
		[ $min, $max ] = self::tip_limits();
		foreach ( $cart->get_cart() as $key => $item ) {
			if ( ! isset( $item[ self::CART_KEY ] ) || ! isset( $item['data'] ) ) {
				continue;
			}
			$amount = self::parse_tip_amount( number_format( (float) $item[ self::CART_KEY ], 2, '.', '' ), $min, $max );
			if ( null === $amount ) {
				$cart->remove_cart_item( $key );
				continue;
			}
			$item['data']->set_price( $amount );
		}
	}

	/**
	 * Action woocommerce_payment_complete / order completed: grant the fixed-term membership
	 * (only without WooCommerce Subscriptions, which manages its own).
	 *
	 * @param int $order_id The order.
	 */
	public static function grant_membership( $order_id ): void {
		if ( self::subscriptions_active() || ! function_exists( 'wc_get_order' ) ) {
			return;
		}
		$order = wc_get_order( (int) $order_id );
		if ( ! $order || ! $order->get_customer_id() || $order->get_meta( '_scripthammer_membership_granted' ) ) {
			return;
		}
		foreach ( $order->get_items() as $item ) {
			$product_id = (int) $item->get_product_id();
			if ( 'membership' !== get_post_meta( $product_id, self::PRODUCT_META, true ) ) {
				continue;
			}
			$days    = max( 1, (int) get_post_meta( $product_id, '_scripthammer_membership_days', true ) );
			$user    = (int) $order->get_customer_id();
			$current = max( time(), (int) get_user_meta( $user, self::MEMBERSHIP_META, true ) );
			update_user_meta( $user, self::MEMBERSHIP_META, $current + $days * DAY_IN_SECONDS );
			$order->update_meta_data( '_scripthammer_membership_granted', 1 );
			$order->save();
		}
	}

	/**
	 * Is this user a paying fan (an active subscription, or a membership not yet over)?
	 *
	 * @param int $user_id The user.
	 */
	public static function is_fan_member( int $user_id ): bool {
		if ( $user_id <= 0 ) {
			return false;
		}
		if ( self::subscriptions_active() ) {
			return (bool) wcs_user_has_subscription( $user_id, (int) get_option( self::SUBSCRIPTION_OPTION ), 'active' );
		}
		return (int) get_user_meta( $user_id, self::MEMBERSHIP_META, true ) > time();
	}

	/**
	 * Admin notice when WooCommerce is missing.
	 */
	public static function admin_notice(): void {
		if ( self::woocommerce_active() || ! current_user_can( 'activate_plugins' ) ) {
			return;
		}
		echo '<div class="notice notice-info scripthammer-notice-woocommerce"><p>'
			. esc_html__( 'ScriptHammer: WooCommerce is not active, so the tip jar and the fan subscription are off. Everything else works.', 'scripthammer' )
			. '</p></div>';
	}
}
