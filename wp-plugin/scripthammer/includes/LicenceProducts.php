<?php
/**
 * Algorithm licences for sale: one virtual, downloadable WooCommerce product per member algorithm and
 * tier (non-commercial, commercial), priced from the companion's pricing (GET /api/pricing, its
 * "licence_products"). The product knows what it licenses (meta _scripthammer_licence "<member>:<tier>"),
 * and so does every order line item WooCommerce's REST API and webhooks show: the plugin adds
 * "scripthammer_licence" to them, which is how the companion knows to issue the buyer a signed licence
 * (docs/provenance.md). The licence file and the package are downloaded from the companion, never from
 * WooCommerce.
 *
 * @package ScriptHammer
 */

namespace ScriptHammer;

defined( 'ABSPATH' ) || exit;

use WP_Error;

/**
 * Licence products and the licence of order line items.
 */
final class LicenceProducts {

	public const KIND         = 'licence';
	public const LICENCE_META = '_scripthammer_licence';
	/** When the products were last priced from the companion (a transient: once an hour at most). */
	public const SYNCED = 'scripthammer_licence_products_synced';

	/**
	 * "<member>:<tier>" when well formed, else "".
	 *
	 * @param mixed $licence The value.
	 */
	public static function valid( $licence ): string {
		return is_string( $licence ) && preg_match( '/^[a-z]{1,40}:(non-commercial|commercial)$/', $licence ) ? $licence : '';
	}

	/**
	 * The product of a licence (any status but trash), or 0.
	 *
	 * @param string $licence <member>:<tier>.
	 */
	public static function find( string $licence ): int {
		return Commerce::product_with_meta( self::LICENCE_META, $licence );
	}

	/**
	 * Create or update one product per entry of the pricing's "licence_products": name, price (the
	 * tier's minimum: the price is the companion's, so it follows every change) and terms. Idempotent.
	 *
	 * @param array<string,mixed> $pricing GET /api/pricing's answer.
	 * @return array<string,array<string,mixed>>|WP_Error {licence: {product_id, created, price}}
	 */
	public static function sync( array $pricing ) {
		$entries = Commerce::pricing_entries( $pricing, 'licence_products' );
		if ( is_wp_error( $entries ) ) {
			return $entries;
		}
		$out = array();
		foreach ( $entries as $entry ) {
			$licence = self::valid( $entry['licence'] ?? null );
			if ( '' === $licence || ! is_numeric( $entry['price'] ?? null ) ) {
				continue;
			}
			$out[ $licence ] = self::ensure( $licence, $entry );
		}
		return $out;
	}

	/**
	 * One licence product, created or updated.
	 *
	 * @param string              $licence <member>:<tier>.
	 * @param array<string,mixed> $entry   Its entry of the pricing's "licence_products".
	 * @return array<string,mixed>
	 */
	private static function ensure( string $licence, array $entry ): array {
		$id      = self::find( $licence );
		$created = 0 === $id;
		$product = $created ? new \WC_Product_Simple() : wc_get_product( $id );
		if ( ! $product ) {
			return array( 'error' => 'scripthammer_product_broken' );
		}
		[ $member, $tier ] = explode( ':', $licence, 2 );
		$price             = number_format( max( 0.0, (float) $entry['price'] ), 2, '.', '' );
		$name              = sanitize_text_field( (string) ( $entry['name'] ?? ucfirst( $member ) ) );
		$seats             = max( 1, (int) ( $entry['seats'] ?? 1 ) );
		$days              = (int) ( $entry['days'] ?? 0 );
		$product->set_name(
			'commercial' === $tier
				/* translators: %s: band member's name */
				? sprintf( __( '%s\'s algorithm: commercial licence', 'scripthammer' ), $name )
				/* translators: %s: band member's name */
				: sprintf( __( '%s\'s algorithm: non-commercial licence', 'scripthammer' ), $name )
		);
		$product->set_short_description(
			sprintf(
				/* translators: 1: seats, 2: term */
				__( 'Generate music on your own computer with this member\'s algorithm, seeded: a signed licence for %1$d seat(s), %2$s, and the package, both downloaded from your licences page once you are signed in.', 'scripthammer' ),
				$seats,
				$days > 0
					/* translators: %d: days */
					? sprintf( __( 'for %d days', 'scripthammer' ), $days )
					: __( 'with no end', 'scripthammer' )
			)
		);
		$product->set_regular_price( $price );
		if ( $created ) {
			$product->set_status( 'publish' );
			$product->set_virtual( true );
			$product->set_downloadable( true );
			$product->set_purchase_note( __( 'Your licence file and the package are on the band\'s companion: sign in with this account and open your licences.', 'scripthammer' ) );
			$product->update_meta_data( Commerce::PRODUCT_META, self::KIND );
			$product->update_meta_data( self::LICENCE_META, $licence );
		}
		$product->update_meta_data( ReleaseProducts::MIN_PRICE_META, $price );
		$product->update_meta_data( '_scripthammer_name_your_price', empty( $entry['name_your_price'] ) ? 'no' : 'yes' );
		$id = (int) $product->save();
		Commerce::duplicates_off_sale( self::LICENCE_META, $licence, $id );
		return array(
			'product_id' => $id,
			'created'    => $created,
			'price'      => $price,
			'status'     => (string) get_post_status( $id ),
		);
	}

	/**
	 * Read the pricing from the companion and sync the products (at most once an hour from admin_init).
	 *
	 * @return array<string,array<string,mixed>>|WP_Error
	 */
	public static function sync_from_companion() {
		return Commerce::sync_with_pricing( array( self::class, 'sync' ), self::SYNCED, HOUR_IN_SECONDS );
	}

	/**
	 * Action admin_init: price the products from the companion, at most once an hour.
	 */
	public static function maybe_sync(): void {
		Commerce::maybe_sync_products( self::SYNCED, 'scripthammer_licence_products_syncing', array( self::class, 'sync_from_companion' ) );
	}

	/**
	 * The licence a product sells, or "".
	 *
	 * @param int $product_id The product.
	 */
	public static function licence_of( int $product_id ): string {
		if ( $product_id <= 0 || self::KIND !== get_post_meta( $product_id, Commerce::PRODUCT_META, true ) ) {
			return '';
		}
		return self::valid( get_post_meta( $product_id, self::LICENCE_META, true ) );
	}

	/**
	 * Filters woocommerce_rest_prepare_shop_order_object (REST responses and so webhook bodies): each
	 * line item selling a licence says which ("scripthammer_licence").
	 *
	 * @param \WP_REST_Response $response The response.
	 * @return \WP_REST_Response
	 */
	public static function annotate_line_items( $response ) {
		return Commerce::annotate_line_items(
			$response,
			static fn( int $product ) => '' === self::licence_of( $product ) ? array() : array( 'scripthammer_licence' => self::licence_of( $product ) )
		);
	}
}
