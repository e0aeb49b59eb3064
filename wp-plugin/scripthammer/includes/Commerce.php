<?php
/**
 * WooCommerce, when it is active: the tip product and the fan subscription product (a real subscription
 * with WooCommerce Subscriptions, otherwise a fixed-term membership), created once WooCommerce has
 * initialised, idempotently. Switching between the two kinds (Subscriptions deactivated, reactivated)
 * restores the product made earlier instead of making another. The amounts are Amounts'; the release
 * products ReleaseProducts'; who is a fan and what that changes, Community's.
 *
 * @package ScriptHammer
 */

namespace ScriptHammer;

defined( 'ABSPATH' ) || exit;

use WP_Error;

/**
 * Tip jar and fan subscription products, and the fan test.
 */
final class Commerce {

	public const DUE_OPTION          = 'scripthammer_products_due';
	public const TIP_OPTION          = 'scripthammer_tip_product_id';
	public const SUBSCRIPTION_OPTION = 'scripthammer_subscription_product_id';
	public const PRODUCT_META        = '_scripthammer_product';
	/** Kept for the tip jar and the player: the amount field's name. */
	public const AMOUNT_FIELD        = Amounts::FIELD;
	public const MEMBERSHIP_META     = 'scripthammer_membership_until';
	public const MANUAL_RENEWALS     = 'woocommerce_subscriptions_accept_manual_renewals';

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
	 * Parse a tip amount (kept for callers of the first version; Amounts::parse is the rule).
	 *
	 * @param mixed $raw The submitted value.
	 * @param float $min The minimum.
	 * @param float $max The maximum.
	 */
	public static function parse_tip_amount( $raw, float $min, float $max ): ?float {
		return Amounts::parse( $raw, $min, $max );
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
	 * On init, after WooCommerce's taxonomies (priority 20): create the products when activation said
	 * they are due. The product type is a term of a taxonomy WooCommerce registers on init.
	 */
	public static function create_products_when_due(): void {
		if ( self::woocommerce_active() && get_option( self::DUE_OPTION ) ) {
			self::ensure_products();
		}
	}

	/**
	 * On admin_init: create or restore the products when due, missing, or of the other kind.
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
	 * Is the product an option names still there (not trashed), and of this kind?
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
	 * Create or restore the tip and subscription products (idempotent).
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
	 * Every product of one kind, oldest first, in any status (trashed too).
	 *
	 * @param string $kind tip, subscription or membership.
	 * @return int[]
	 */
	public static function products_of_kind( string $kind ): array {
		return array_map(
			'intval',
			get_posts(
				array(
					'post_type'      => 'product',
					'post_status'    => array( 'publish', 'private', 'draft', 'pending', 'future', 'trash' ),
					'posts_per_page' => -1,
					'fields'         => 'ids',
					'orderby'        => 'ID',
					'order'          => 'ASC',
					'meta_key'       => self::PRODUCT_META, // phpcs:ignore WordPress.DB.SlowDBQuery
					'meta_value'     => $kind, // phpcs:ignore WordPress.DB.SlowDBQuery
				)
			)
		);
	}

	/**
	 * Run $sync unless another request is already running it: admin_init fires in several requests at
	 * once (wp-admin's own AJAX and the page itself), and two syncs that both find no product would
	 * each create one. The lock is a row of the options table inserted with INSERT IGNORE (atomic on
	 * its unique key); one older than a minute (a request that died) is taken over.
	 *
	 * @param string   $name Lock name (an option name).
	 * @param callable $sync What to run.
	 * @return bool Whether it ran.
	 */
	public static function sync_once( string $name, callable $sync ): bool {
		global $wpdb;
		$now = time();
		// phpcs:ignore WordPress.DB.DirectDatabaseQuery -- an atomic lock; the options API has none.
		$got = (int) $wpdb->query( $wpdb->prepare( "INSERT IGNORE INTO {$wpdb->options} (option_name, option_value, autoload) VALUES (%s, %s, 'no')", $name, (string) $now ) );
		if ( 1 !== $got ) {
			// phpcs:ignore WordPress.DB.DirectDatabaseQuery -- the same lock, taken over only if stale (compare-and-set).
			$got = (int) $wpdb->query( $wpdb->prepare( "UPDATE {$wpdb->options} SET option_value = %s WHERE option_name = %s AND CAST(option_value AS UNSIGNED) < %d", (string) $now, $name, $now - MINUTE_IN_SECONDS ) );
			if ( 1 !== $got ) {
				return false;
			}
		}
		try {
			$sync();
		} finally {
			// phpcs:ignore WordPress.DB.DirectDatabaseQuery -- releasing the lock above.
			$wpdb->delete( $wpdb->options, array( 'option_name' => $name ) );
			wp_cache_delete( $name, 'options' );
		}
		return true;
	}

	/**
	 * Take later duplicates of a product off sale (draft): the products whose meta $key is $value, other
	 * than $keep (the oldest, which product_with_meta finds). How many.
	 *
	 * @param string $key   Meta key.
	 * @param string $value Meta value.
	 * @param int    $keep  The product that stays.
	 */
	public static function duplicates_off_sale( string $key, string $value, int $keep ): int {
		$ids = get_posts(
			array(
				'post_type'      => 'product',
				'post_status'    => array( 'publish', 'private', 'pending', 'future' ),
				'posts_per_page' => -1,
				'fields'         => 'ids',
				'meta_key'       => $key, // phpcs:ignore WordPress.DB.SlowDBQuery
				'meta_value'     => $value, // phpcs:ignore WordPress.DB.SlowDBQuery
			)
		);
		$n = 0;
		foreach ( $ids as $id ) {
			if ( (int) $id !== $keep ) {
				wp_update_post( array( 'ID' => (int) $id, 'post_status' => 'draft' ) );
				++$n;
			}
		}
		return $n;
	}

	/**
	 * The entries of one list of the companion's pricing (GET /api/pricing) that products are made from,
	 * or why there are none: WooCommerce inactive (409), the list missing (502).
	 *
	 * @param array<string,mixed> $pricing The pricing.
	 * @param string              $key     The list: "licence_products", "edition_products", "bundles".
	 * @return array<int,mixed>|WP_Error
	 */
	public static function pricing_entries( array $pricing, string $key ) {
		if ( ! self::woocommerce_active() ) {
			return new WP_Error( 'scripthammer_woocommerce_inactive', __( 'WooCommerce is not active on this site: nothing is for sale.', 'scripthammer' ), array( 'status' => 409 ) );
		}
		$entries = $pricing[ $key ] ?? null;
		if ( ! is_array( $entries ) ) {
			/* translators: %s: the list's name in the companion's pricing */
			return new WP_Error( 'scripthammer_bad_pricing', sprintf( __( 'The companion\'s pricing has no %s.', 'scripthammer' ), str_replace( '_', ' ', $key ) ), array( 'status' => 502 ) );
		}
		return $entries;
	}

	/**
	 * Read the pricing from the companion, sync products with it, and remember when (a transient that
	 * lives $ttl seconds) unless the sync failed.
	 *
	 * @param callable $sync      The sync: pricing => result|WP_Error.
	 * @param string   $transient The "synced" transient.
	 * @param int      $ttl       Its lifetime in seconds.
	 * @return array<string,array<string,mixed>>|WP_Error
	 */
	public static function sync_with_pricing( callable $sync, string $transient, int $ttl ) {
		$pricing = Companion::from_settings()->request( 'GET', '/api/pricing' );
		if ( is_wp_error( $pricing ) ) {
			return $pricing;
		}
		$done = $sync( $pricing );
		if ( ! is_wp_error( $done ) ) {
			set_transient( $transient, time(), $ttl );
		}
		return $done;
	}

	/**
	 * For admin_init: run a product sync when WooCommerce is active, the companion is set and the "synced"
	 * transient has run out (an unreachable companion is tried again on the next admin page), one at a
	 * time (sync_once).
	 *
	 * @param string   $transient The "synced" transient.
	 * @param string   $lock      The sync's lock name.
	 * @param callable $sync      The sync from the companion.
	 */
	public static function maybe_sync_products( string $transient, string $lock, callable $sync ): void {
		if ( ! self::woocommerce_active() || get_transient( $transient ) || '' === (string) Settings::get( 'companion_url' ) ) {
			return;
		}
		self::sync_once( $lock, $sync );
	}

	/**
	 * For woocommerce_rest_prepare_shop_order_object (REST responses and so webhook bodies): add to each
	 * line item the fields $fields_of(product id) gives (none for products not the band's).
	 *
	 * @param \WP_REST_Response|mixed $response  The response.
	 * @param callable                $fields_of Product id => array of fields to add.
	 * @return \WP_REST_Response|mixed
	 */
	public static function annotate_line_items( $response, callable $fields_of ) {
		if ( ! is_object( $response ) || ! isset( $response->data['line_items'] ) || ! is_array( $response->data['line_items'] ) ) {
			return $response;
		}
		$data = $response->get_data();
		foreach ( $data['line_items'] as $i => $item ) {
			foreach ( $fields_of( (int) ( $item['product_id'] ?? 0 ) ) as $field => $value ) {
				$data['line_items'][ $i ][ $field ] = $value;
			}
		}
		$response->set_data( $data );
		return $response;
	}

	/**
	 * The oldest product (any status but trash) whose meta $key is $value, or 0.
	 *
	 * @param string $key   Meta key.
	 * @param string $value Meta value.
	 */
	public static function product_with_meta( string $key, string $value ): int {
		$ids = get_posts(
			array(
				'post_type'      => 'product',
				'post_status'    => array( 'publish', 'private', 'draft', 'pending', 'future' ),
				'posts_per_page' => 1,
				'fields'         => 'ids',
				'orderby'        => 'ID',
				'order'          => 'ASC',
				'meta_key'       => $key, // phpcs:ignore WordPress.DB.SlowDBQuery
				'meta_value'     => $value, // phpcs:ignore WordPress.DB.SlowDBQuery
			)
		);
		return $ids ? (int) $ids[0] : 0;
	}

	/**
	 * One product: the stored id if it is of this kind; else the oldest one of this kind made earlier,
	 * put back on sale (Subscriptions deactivated and reactivated: the same subscription product, with
	 * its subscribers); else a new one. The product of the other kind the option pointed at, and any
	 * later duplicate of this kind, go off sale (draft).
	 *
	 * @param string $kind   tip, subscription or membership.
	 * @param string $option The option that keeps its id.
	 */
	private static function ensure_product( string $kind, string $option ): int {
		if ( self::product_ok( $option, $kind ) ) {
			return (int) get_option( $option );
		}
		$previous = (int) get_option( $option, 0 );
		if ( $previous > 0 && 'publish' === get_post_status( $previous ) && get_post_meta( $previous, self::PRODUCT_META, true ) !== $kind ) {
			self::set_status( $previous, 'draft' );
		}
		$mine = self::products_of_kind( $kind );
		if ( $mine ) {
			$id = $mine[0];
			if ( 'trash' === get_post_status( $id ) ) {
				wp_untrash_post( $id );
			}
			self::set_status( $id, 'publish' );
			if ( 'subscription' === $kind ) {
				// A product an earlier version saved while Subscriptions was off had become "simple".
				wp_set_object_terms( $id, 'subscription', 'product_type' );
				if ( function_exists( 'wc_delete_product_transients' ) ) {
					wc_delete_product_transients( $id );
				}
			}
			foreach ( array_slice( $mine, 1 ) as $duplicate ) {
				if ( 'publish' === get_post_status( $duplicate ) ) {
					self::set_status( $duplicate, 'draft' );
				}
			}
		} else {
			$id = 'tip' === $kind ? self::create_tip_product() : self::create_subscription_product( $kind );
		}
		if ( $id > 0 ) {
			update_option( $option, $id, false );
		}
		return $id;
	}

	/**
	 * Change a product's status without saving it through WooCommerce: a subscription product loaded while
	 * Subscriptions is off is a "simple" product to WooCommerce, and saving it would make it one for good
	 * (WooCommerce rewrites the product_type term on save).
	 *
	 * @param int    $id     Product.
	 * @param string $status publish or draft.
	 */
	private static function set_status( int $id, string $status ): void {
		if ( get_post_status( $id ) === $status ) {
			return;
		}
		wp_update_post(
			array(
				'ID'          => $id,
				'post_status' => $status,
			)
		);
		if ( function_exists( 'wc_delete_product_transients' ) ) {
			wc_delete_product_transients( $id );
		}
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
	 * Action woocommerce_payment_complete / order completed: grant the fixed-term membership
	 * (only without WooCommerce Subscriptions, which manages its own), then let Community follow.
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
			Community::sync_fan( $user );
		}
	}

	/**
	 * Is this user a paying fan: an active (or cancelled but paid-up) subscription to any of the band's
	 * subscription products (also one an earlier switch took off sale), or a membership not yet over?
	 *
	 * @param int $user_id The user.
	 */
	public static function is_fan_member( int $user_id ): bool {
		if ( $user_id <= 0 ) {
			return false;
		}
		if ( self::subscriptions_active() ) {
			foreach ( self::products_of_kind( 'subscription' ) as $product_id ) {
				if ( wcs_user_has_subscription( $user_id, $product_id, array( 'active', 'pending-cancel' ) ) ) {
					return true;
				}
			}
			return false;
		}
		return (int) get_user_meta( $user_id, self::MEMBERSHIP_META, true ) > time();
	}

	/**
	 * Can fans buy the subscription here? WooCommerce Subscriptions refuses a checkout when no enabled
	 * payment method supports subscriptions, unless manual renewals are allowed (WooCommerce → Settings →
	 * Subscriptions → "Accept Manual Renewals").
	 *
	 * @return array{ok:bool,manual_renewals:bool,gateways:string[],message:string}
	 */
	public static function subscriptions_purchasable(): array {
		$out = array(
			'ok'              => true,
			'manual_renewals' => false,
			'gateways'        => array(),
			'message'         => '',
		);
		if ( ! self::subscriptions_active() ) {
			return $out;
		}
		$out['manual_renewals'] = 'yes' === get_option( self::MANUAL_RENEWALS, 'no' );
		$gateways               = function_exists( 'WC' ) && WC()->payment_gateways() ? WC()->payment_gateways()->payment_gateways() : array();
		foreach ( (array) $gateways as $id => $gateway ) {
			if ( is_object( $gateway ) && 'yes' === ( $gateway->enabled ?? 'no' ) && method_exists( $gateway, 'supports' ) && $gateway->supports( 'subscriptions' ) ) {
				$out['gateways'][] = (string) $id;
			}
		}
		$out['ok'] = $out['manual_renewals'] || array() !== $out['gateways'];
		if ( ! $out['ok'] ) {
			$out['message'] = __( 'Fans cannot buy the subscription yet: no enabled payment method supports subscriptions. Enable one that does, or allow manual renewals (WooCommerce → Settings → Subscriptions → Accept Manual Renewals).', 'scripthammer' );
		}
		return $out;
	}

	/**
	 * Admin notices: WooCommerce missing; the subscription not purchasable.
	 */
	public static function admin_notice(): void {
		if ( ! current_user_can( 'activate_plugins' ) ) {
			return;
		}
		if ( ! self::woocommerce_active() ) {
			echo '<div class="notice notice-info scripthammer-notice-woocommerce"><p>'
				. esc_html__( 'ScriptHammer: WooCommerce is not active, so the tip jar and the fan subscription are off. Everything else works.', 'scripthammer' )
				. '</p></div>';
			return;
		}
		$sale = self::subscriptions_purchasable();
		if ( ! $sale['ok'] ) {
			echo '<div class="notice notice-warning scripthammer-notice-subscriptions"><p>' . esc_html( 'ScriptHammer: ' . $sale['message'] ) . '</p></div>';
		}
	}
}
