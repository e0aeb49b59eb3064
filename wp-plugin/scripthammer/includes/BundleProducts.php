<?php
/**
 * Bundles for sale: one virtual WooCommerce product per bundle of the companion's pricing (GET
 * /api/pricing, its "bundles": an id, a name, the items and the computed price). The product keeps its
 * bundle id (meta _scripthammer_bundle) and the items it grants (_scripthammer_bundle_items, a JSON list
 * of "track:<id>", "album:<id>", "licence:<member>:<tier>"); every order line item WooCommerce's REST API
 * and webhooks show for it carries "scripthammer_bundle" and "scripthammer_bundle_items", so the
 * companion grants each item (and revokes each on a refund). A bundle the pricing no longer lists goes
 * off sale (draft), and back on sale if it returns. Sold at the bundle's computed price (its items'
 * minimums less its discount, docs/pricing.md): a bundle is a deal, not a name-your-price product.
 *
 * @package ScriptHammer
 */

namespace ScriptHammer;

defined( 'ABSPATH' ) || exit;

use WP_Error;

/**
 * Bundle products and the items of order line items.
 */
final class BundleProducts {

	public const KIND        = 'bundle';
	public const BUNDLE_META = '_scripthammer_bundle';
	public const ITEMS_META  = '_scripthammer_bundle_items';
	/** Set when the sync took the product off sale (its bundle left the pricing), so that only then it puts it back. */
	public const OFF_SALE_META = '_scripthammer_bundle_off_sale';
	/** When the products were last synced from the companion (a transient: once an hour at most). */
	public const SYNCED = 'scripthammer_bundle_products_synced';

	/**
	 * The bundle id when well formed (the companion's pricing.BUNDLE_ID_RE), else "".
	 *
	 * @param mixed $id The value.
	 */
	public static function valid_id( $id ): string {
		return is_string( $id ) && preg_match( '/^[a-z0-9][a-z0-9-]{0,59}$/', $id ) ? $id : '';
	}

	/**
	 * The items when every one is well formed, distinct, and there are 2 to 500; else null.
	 *
	 * @param mixed $items The value.
	 * @return string[]|null
	 */
	public static function valid_items( $items ): ?array {
		if ( ! is_array( $items ) || count( $items ) < 2 || count( $items ) > 500 || ! array_is_list( $items ) ) {
			return null;
		}
		foreach ( $items as $item ) {
			if ( ! is_string( $item ) || ! preg_match( '/^(licence:[a-z]{1,40}:(non-commercial|commercial)|track:[1-9][0-9]{0,9}|album:[1-9][0-9]{0,9})$/', $item ) ) {
				return null;
			}
		}
		return count( array_unique( $items ) ) === count( $items ) ? array_values( $items ) : null;
	}

	/**
	 * The product of a bundle (any status but trash), or 0.
	 *
	 * @param string $id The bundle id.
	 */
	public static function find( string $id ): int {
		return Commerce::product_with_meta( self::BUNDLE_META, $id );
	}

	/**
	 * Create or update one product per bundle of the pricing; a bundle product whose bundle is gone from
	 * the pricing goes off sale. Idempotent.
	 *
	 * @param array<string,mixed> $pricing GET /api/pricing's answer.
	 * @return array<string,array<string,mixed>>|WP_Error {bundle id: {product_id, created, price, status}}
	 */
	public static function sync( array $pricing ) {
		$bundles = Commerce::pricing_entries( $pricing, 'bundles' );
		if ( is_wp_error( $bundles ) ) {
			return $bundles;
		}
		$out = array();
		foreach ( $bundles as $bundle ) {
			$id    = self::valid_id( $bundle['id'] ?? null );
			$items = self::valid_items( $bundle['items'] ?? null );
			if ( '' === $id || null === $items || ! is_numeric( $bundle['price'] ?? null ) ) {
				continue;
			}
			$out[ $id ] = self::ensure( $id, $items, $bundle );
		}
		// Bundles the pricing no longer lists: off sale.
		$listed = get_posts(
			array(
				'post_type'      => 'product',
				'post_status'    => array( 'publish', 'private', 'pending', 'future' ),
				'posts_per_page' => -1,
				'fields'         => 'ids',
				'meta_key'       => self::BUNDLE_META, // phpcs:ignore WordPress.DB.SlowDBQuery
			)
		);
		$kept = array_map( static fn( $done ) => (int) ( $done['product_id'] ?? 0 ), $out );
		foreach ( $listed as $product_id ) {
			$product_id = (int) $product_id;
			$product    = in_array( $product_id, $kept, true ) ? null : wc_get_product( $product_id );
			if ( ! $product ) {
				continue;
			}
			$product->set_status( 'draft' );
			$product->update_meta_data( self::OFF_SALE_META, '1' );
			$product->save();
			$bid = (string) get_post_meta( $product_id, self::BUNDLE_META, true );
			if ( ! isset( $out[ $bid ] ) ) {
				$out[ $bid ] = array(
					'product_id' => $product_id,
					'created'    => false,
					'status'     => (string) get_post_status( $product_id ),
				);
			}
		}
		return $out;
	}

	/**
	 * One bundle product, created or updated.
	 *
	 * @param string              $id     The bundle id.
	 * @param string[]            $items  Its items.
	 * @param array<string,mixed> $bundle Its entry of the pricing's "bundles".
	 * @return array<string,mixed>
	 */
	private static function ensure( string $id, array $items, array $bundle ): array {
		$pid     = self::find( $id );
		$created = 0 === $pid;
		$product = $created ? new \WC_Product_Simple() : wc_get_product( $pid );
		if ( ! $product ) {
			return array( 'error' => 'scripthammer_product_broken' );
		}
		$price = number_format( max( 0.0, (float) $bundle['price'] ), 2, '.', '' );
		$product->set_name( sanitize_text_field( (string) ( $bundle['name'] ?? $id ) ) );
		$product->set_short_description(
			sprintf(
				/* translators: 1: how many items, 2: the discount in percent */
				__( '%1$d items together, %2$d%% less than on their own: each one is yours once the order is paid.', 'scripthammer' ),
				count( $items ),
				(int) ( $bundle['discount_percent'] ?? 0 )
			)
		);
		$product->set_regular_price( $price );
		if ( $created || '1' === get_post_meta( $pid, self::OFF_SALE_META, true ) ) {
			$product->set_status( 'publish' ); // new, or back in the pricing after the sync took it off sale
			$product->update_meta_data( self::OFF_SALE_META, '' );
		}
		if ( $created ) {
			$product->set_virtual( true );
			$product->set_purchase_note( __( 'Everything in this bundle is on the band\'s companion under this account: the music in the player, the licences on your licences page.', 'scripthammer' ) );
			$product->update_meta_data( Commerce::PRODUCT_META, self::KIND );
			$product->update_meta_data( self::BUNDLE_META, $id );
		}
		$product->update_meta_data( self::ITEMS_META, wp_json_encode( $items ) );
		$product->update_meta_data( ReleaseProducts::MIN_PRICE_META, $price );
		$pid = (int) $product->save();
		Commerce::duplicates_off_sale( self::BUNDLE_META, $id, $pid );
		return array(
			'product_id' => $pid,
			'created'    => $created,
			'price'      => $price,
			'items'      => $items,
			'status'     => (string) get_post_status( $pid ),
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
	 * Action admin_init: sync the products when WooCommerce is active, at most once an hour.
	 */
	public static function maybe_sync(): void {
		Commerce::maybe_sync_products( self::SYNCED, 'scripthammer_bundle_products_syncing', array( self::class, 'sync_from_companion' ) );
	}

	/**
	 * [bundle id, items] a product sells, or null when it is not a (well-formed) bundle product.
	 *
	 * @param int $product_id The product.
	 * @return array{0:string,1:string[]}|null
	 */
	public static function bundle_of( int $product_id ): ?array {
		if ( $product_id <= 0 || self::KIND !== get_post_meta( $product_id, Commerce::PRODUCT_META, true ) ) {
			return null;
		}
		$id    = self::valid_id( get_post_meta( $product_id, self::BUNDLE_META, true ) );
		$items = self::valid_items( json_decode( (string) get_post_meta( $product_id, self::ITEMS_META, true ), true ) );
		return '' === $id || null === $items ? null : array( $id, $items );
	}

	/**
	 * Filters woocommerce_rest_prepare_shop_order_object (REST responses and so webhook bodies): each
	 * line item selling a bundle names it and every item it grants.
	 *
	 * @param \WP_REST_Response $response The response.
	 * @return \WP_REST_Response
	 */
	public static function annotate_line_items( $response ) {
		return Commerce::annotate_line_items(
			$response,
			static function ( int $product ): array {
				$bundle = self::bundle_of( $product );
				return null === $bundle ? array() : array(
					'scripthammer_bundle'       => $bundle[0],
					'scripthammer_bundle_items' => $bundle[1],
				);
			}
		);
	}
}
