<?php
/**
 * The band's releases for sale, Bandcamp style: publishing a track or an album (the companion calls the
 * signed route POST scripthammer/v1/products) makes one virtual, downloadable WooCommerce product for it,
 * once: a minimum price, and fans may pay more (Amounts). The product knows the companion's item
 * (meta _scripthammer_scope "track:<id>" or "album:<id>"), and so does every order line item WooCommerce's
 * REST API and webhooks show: the plugin adds "scripthammer_scope" to them (and "scripthammer_days" for
 * the fixed-term membership), which is how the companion knows what a fan bought.
 *
 * A premium broadcast's ticket is such a product too (kind "live", scope "live:<broadcast id>"): the
 * companion asks for it when the broadcast is scheduled premium, priced from its "live" price model; a
 * paid order's line item then carries "scripthammer_scope": "live:<id>", and the companion lets the buyer
 * listen to that broadcast (a refund takes it back).
 *
 * The downloads themselves are never in WooCommerce: the companion's player lists them, signed for the
 * fan, on the item's page.
 *
 * @package ScriptHammer
 */

namespace ScriptHammer;

defined( 'ABSPATH' ) || exit;

use WP_Error;

/**
 * Release products and the scope of order line items.
 */
final class ReleaseProducts {

	public const KIND           = 'release';
	public const SCOPE_META     = '_scripthammer_scope';
	public const MIN_PRICE_META = '_scripthammer_min_price';
	public const POST_META      = '_scripthammer_post';
	/** On the track's or album's post: its product. */
	public const PRODUCT_ON_POST = '_scripthammer_product_id';

	/**
	 * The product of a companion item (any status but trash), or 0.
	 *
	 * @param string $scope track:<id> or album:<id>.
	 */
	public static function find( string $scope ): int {
		return Commerce::product_with_meta( self::SCOPE_META, $scope );
	}

	/**
	 * Create the item's product, or update the one made before (name, link; the price the shop owner may
	 * have changed stays). Idempotent.
	 *
	 * @param string $kind         track, album or live (a premium broadcast's ticket).
	 * @param int    $companion_id The companion's id.
	 * @param string $title        The item's title.
	 * @param int    $post_id      The item's post on this site (0: unknown).
	 * @param mixed  $min_price    The minimum from the companion's price models (docs/pricing.md); not
	 *                             numeric: the plugin's setting (track_price or album_price).
	 * @return array<string,mixed>|WP_Error {product_id, permalink, created, min_price, scope, status}
	 */
	public static function ensure( string $kind, int $companion_id, string $title, int $post_id = 0, $min_price = null ) {
		if ( ! Commerce::woocommerce_active() ) {
			return new WP_Error( 'scripthammer_woocommerce_inactive', __( 'WooCommerce is not active on this site: nothing is for sale.', 'scripthammer' ), array( 'status' => 409 ) );
		}
		if ( ! in_array( $kind, array( 'track', 'album', 'live' ), true ) || $companion_id <= 0 ) {
			return new WP_Error( 'scripthammer_bad_body', __( 'Send {"kind": "track"|"album"|"live", "id": <companion id>, "title": ...}.', 'scripthammer' ), array( 'status' => 400 ) );
		}
		if ( 'live' === $kind && ( $post_id <= 0 || PostTypes::PERFORMANCE !== get_post_type( $post_id ) ) ) {
			/* A ticket is sold from its performance page and names it: never a ticket without one. */
			return new WP_Error( 'scripthammer_ticket_needs_post', __( 'A live broadcast ticket needs its performance post (post_id).', 'scripthammer' ), array( 'status' => 400 ) );
		}
		$scope   = $kind . ':' . $companion_id;
		$id      = self::find( $scope );
		$created = 0 === $id;
		$product = $created ? new \WC_Product_Simple() : wc_get_product( $id );
		if ( ! $product ) {
			return new WP_Error( 'scripthammer_product_broken', __( 'The product of this item cannot be read.', 'scripthammer' ), array( 'status' => 500 ) );
		}
		if ( 'live' === $kind ) {
			/* translators: %s: the broadcast's title */
			$name = sprintf( __( '%s (live broadcast ticket)', 'scripthammer' ), $title );
		} elseif ( 'album' === $kind ) {
			/* translators: %s: album title */
			$name = sprintf( __( '%s (album)', 'scripthammer' ), $title );
		} else {
			$name = $title;
		}
		$product->set_name( '' !== $title ? $name : $scope );
		$link = $post_id > 0 ? get_permalink( $post_id ) : '';
		$product->set_short_description(
			'live' === $kind
				? ( $link
					/* translators: %s: link to the performance page */
					? sprintf( __( 'A ticket to the premium live broadcast. Sign in with this account and listen on <a href="%s">its page</a> when it goes live.', 'scripthammer' ), esc_url( $link ) )
					: __( 'A ticket to the premium live broadcast. Sign in with this account and listen on its page when it goes live.', 'scripthammer' ) )
				: ( $link
				/* translators: %s: link to the track or album page */
				? sprintf( __( 'Name your price. Listen and download in the player on <a href="%s">its page</a> once you are signed in.', 'scripthammer' ), esc_url( $link ) )
				: __( 'Name your price. Listen and download in the player once you are signed in.', 'scripthammer' ) )
		);
		if ( $created ) {
			$min = is_numeric( $min_price ) ? (float) $min_price : (float) Settings::get( 'album' === $kind ? 'album_price' : 'track_price' );
			$min = number_format( max( 0.0, $min ), 2, '.', '' );
			$product->set_status( 'publish' );
			$product->set_virtual( true );
			$product->set_downloadable( 'live' !== $kind );
			$product->set_sold_individually( true );
			$product->set_regular_price( $min );
			$product->set_purchase_note(
				'live' === $kind
					? __( 'Your ticket is on this account: sign in and open the performance page when the broadcast goes live.', 'scripthammer' )
					: __( 'Your downloads are in the player on the track\'s or album\'s page: sign in with this account and open it.', 'scripthammer' )
			);
			$product->update_meta_data( Commerce::PRODUCT_META, self::KIND );
			$product->update_meta_data( self::SCOPE_META, $scope );
			$product->update_meta_data( self::MIN_PRICE_META, $min );
		}
		$product->update_meta_data( self::POST_META, $post_id );
		$id = (int) $product->save();
		if ( $post_id > 0 && $id > 0 ) {
			update_post_meta( $post_id, self::PRODUCT_ON_POST, $id );
		}
		return array(
			'product_id' => $id,
			'permalink'  => (string) get_permalink( $id ),
			'created'    => $created,
			'min_price'  => (string) get_post_meta( $id, self::MIN_PRICE_META, true ),
			'scope'      => $scope,
			'status'     => (string) get_post_status( $id ),
		);
	}

	/**
	 * What a product sells, as the companion reads it: [scope, days] — scope "track:<id>", "album:<id>",
	 * "all" (the fan subscription or membership), "" (the tip: nothing), or null (not the band's).
	 *
	 * @param int $product_id The product.
	 * @return array{0:string|null,1:int|null}
	 */
	public static function scope_of( int $product_id ): array {
		$kind = $product_id > 0 ? (string) get_post_meta( $product_id, Commerce::PRODUCT_META, true ) : '';
		switch ( $kind ) {
			case self::KIND:
				return array( (string) get_post_meta( $product_id, self::SCOPE_META, true ), null );
			case 'subscription':
				return array( 'all', null );
			case 'membership':
				return array( 'all', max( 1, (int) get_post_meta( $product_id, '_scripthammer_membership_days', true ) ) );
			case 'tip':
				return array( '', null );
			default:
				return array( null, null );
		}
	}

	/**
	 * Filters woocommerce_rest_prepare_shop_order_object and _shop_subscription_object (REST responses and
	 * so webhook bodies): each line item of the band's says what it sells ("scripthammer_scope").
	 *
	 * @param \WP_REST_Response $response The response.
	 * @return \WP_REST_Response
	 */
	public static function annotate_line_items( $response ) {
		return Commerce::annotate_line_items(
			$response,
			static function ( int $product ): array {
				[ $scope, $days ] = self::scope_of( $product );
				if ( null === $scope ) {
					return array();
				}
				return null === $days ? array( 'scripthammer_scope' => $scope ) : array(
					'scripthammer_scope' => $scope,
					'scripthammer_days'  => $days,
				);
			}
		);
	}

	/**
	 * Filter woocommerce_checkout_registration_required: the band's releases and the fan subscription
	 * need an account (the player knows fans by their WordPress user; a guest order entitles nobody).
	 *
	 * @param bool $required Required so far.
	 */
	public static function registration_required( $required ) {
		if ( $required || ! function_exists( 'WC' ) || ! WC()->cart ) {
			return $required;
		}
		foreach ( WC()->cart->get_cart() as $item ) {
			[ $scope ] = self::scope_of( (int) ( $item['product_id'] ?? 0 ) );
			$product = (int) ( $item['product_id'] ?? 0 );
			if ( ( null !== $scope && '' !== $scope ) || '' !== LicenceProducts::licence_of( $product )
				|| '' !== EditionProducts::work_of( $product ) || null !== BundleProducts::bundle_of( $product ) ) {
				return true; // a licence, an edition and a bundle's items go to an account too
			}
		}
		return $required;
	}
}
