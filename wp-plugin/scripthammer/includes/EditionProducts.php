<?php
/**
 * Numbered editions for sale: one virtual WooCommerce product per edition series the companion offers
 * (GET /api/pricing, its "edition_products": a work, its count, how many are left, the edition price).
 * The product knows its work (meta _scripthammer_edition, "composition:<id>" or
 * "version:<composition>@<tag>"), its stock is the editions left (sold out when all are issued) and its
 * price is the companion's edition minimum, name-your-price above it. Every order line item
 * WooCommerce's REST API and webhooks show for it carries "scripthammer_edition": the companion then
 * issues the buyer the next numbered edition on its ownership log, and takes it back on a refund
 * (docs/provenance.md, docs/commerce.md).
 *
 * @package ScriptHammer
 */

namespace ScriptHammer;

defined( 'ABSPATH' ) || exit;

use WP_Error;

/**
 * Edition products, their stock, and the work of order line items.
 */
final class EditionProducts {

	public const KIND         = 'edition';
	public const EDITION_META = '_scripthammer_edition';
	public const COUNT_META   = '_scripthammer_edition_count';
	/** When the products were last synced from the companion (a transient: every 10 minutes at most). */
	public const SYNCED = 'scripthammer_edition_products_synced';

	/**
	 * The work when well formed (the companion's rights.service.valid_work), else "".
	 *
	 * @param mixed $work The value.
	 */
	public static function valid( $work ): string {
		return is_string( $work ) && preg_match( '/^(composition|version):[A-Za-z0-9_.:@\/-]{1,100}$/', $work ) ? $work : '';
	}

	/**
	 * The product of a work's editions (any status but trash), or 0.
	 *
	 * @param string $work The work.
	 */
	public static function find( string $work ): int {
		return Commerce::product_with_meta( self::EDITION_META, $work );
	}

	/**
	 * Create or update one product per entry of the pricing's "edition_products": name, price (the
	 * companion's edition minimum, followed on every sync) and stock (the editions left). Idempotent.
	 *
	 * @param array<string,mixed> $pricing GET /api/pricing's answer.
	 * @return array<string,array<string,mixed>>|WP_Error {work: {product_id, created, price, stock, in_stock}}
	 */
	public static function sync( array $pricing ) {
		$entries = Commerce::pricing_entries( $pricing, 'edition_products' );
		if ( is_wp_error( $entries ) ) {
			return $entries;
		}
		$out = array();
		foreach ( $entries as $entry ) {
			$work = self::valid( $entry['work'] ?? null );
			if ( '' === $work || ! is_numeric( $entry['price'] ?? null ) || ! is_int( $entry['remaining'] ?? null ) || ! is_int( $entry['count'] ?? null ) ) {
				continue;
			}
			$out[ $work ] = self::ensure( $work, $entry );
		}
		return $out;
	}

	/**
	 * One edition product, created or updated.
	 *
	 * @param string              $work  The work.
	 * @param array<string,mixed> $entry Its entry of the pricing's "edition_products".
	 * @return array<string,mixed>
	 */
	private static function ensure( string $work, array $entry ): array {
		$id      = self::find( $work );
		$created = 0 === $id;
		$product = $created ? new \WC_Product_Simple() : wc_get_product( $id );
		if ( ! $product ) {
			return array( 'error' => 'scripthammer_product_broken' );
		}
		$count = max( 1, (int) $entry['count'] );
		$left  = max( 0, min( $count, (int) $entry['remaining'] ) );
		$price = number_format( max( 0.0, (float) $entry['price'] ), 2, '.', '' );
		$title = sanitize_text_field( (string) ( $entry['name'] ?? $work ) );
		/* translators: 1: the work's title, 2: how many editions there are */
		$product->set_name( sprintf( __( '%1$s: numbered edition (of %2$d)', 'scripthammer' ), $title, $count ) );
		$product->set_short_description(
			sprintf(
				/* translators: %d: how many editions there are */
				__( 'Own one of %d numbered editions of this piece: your edition and every change of hands are entries on the band\'s signed ownership log, which anyone can verify. You can pass it on to another fan later.', 'scripthammer' ),
				$count
			)
		);
		$product->set_regular_price( $price );
		$product->set_manage_stock( true );
		$product->set_stock_quantity( $left );
		$product->set_stock_status( $left > 0 ? 'instock' : 'outofstock' );
		if ( $created ) {
			$product->set_status( 'publish' );
			$product->set_virtual( true );
			$product->set_purchase_note( __( 'Your numbered edition is on the band\'s ownership log under this account: its certificate is on the companion.', 'scripthammer' ) );
			$product->update_meta_data( Commerce::PRODUCT_META, self::KIND );
			$product->update_meta_data( self::EDITION_META, $work );
		}
		$product->update_meta_data( self::COUNT_META, (string) $count );
		$product->update_meta_data( ReleaseProducts::MIN_PRICE_META, $price );
		$product->update_meta_data( '_scripthammer_name_your_price', empty( $entry['name_your_price'] ) ? 'no' : 'yes' );
		$id = (int) $product->save();
		Commerce::duplicates_off_sale( self::EDITION_META, $work, $id );
		return array(
			'product_id' => $id,
			'created'    => $created,
			'price'      => $price,
			'stock'      => $left,
			'in_stock'   => $left > 0,
			'status'     => (string) get_post_status( $id ),
		);
	}

	/**
	 * Read the pricing from the companion and sync the products (at most every ten minutes from
	 * admin_init: the stock follows the editions issued and taken back).
	 *
	 * @return array<string,array<string,mixed>>|WP_Error
	 */
	public static function sync_from_companion() {
		return Commerce::sync_with_pricing( array( self::class, 'sync' ), self::SYNCED, 10 * MINUTE_IN_SECONDS );
	}

	/**
	 * Action admin_init: sync the products from the companion, at most every ten minutes.
	 */
	public static function maybe_sync(): void {
		Commerce::maybe_sync_products( self::SYNCED, 'scripthammer_edition_products_syncing', array( self::class, 'sync_from_companion' ) );
	}

	/**
	 * The work a product sells editions of, or "".
	 *
	 * @param int $product_id The product.
	 */
	public static function work_of( int $product_id ): string {
		if ( $product_id <= 0 || self::KIND !== get_post_meta( $product_id, Commerce::PRODUCT_META, true ) ) {
			return '';
		}
		return self::valid( get_post_meta( $product_id, self::EDITION_META, true ) );
	}

	/**
	 * The message for an order of more editions than are left.
	 *
	 * @param int $left  Editions left.
	 * @param int $count Editions in all.
	 */
	public static function beyond_count_message( int $left, int $count ): string {
		if ( $left <= 0 ) {
			/* translators: %d: how many editions there are */
			return sprintf( __( 'All %d numbered editions of this piece are sold.', 'scripthammer' ), $count );
		}
		/* translators: 1: editions left, 2: editions in all */
		return sprintf( _n( 'Only %1$d of the %2$d numbered editions of this piece is left.', 'Only %1$d of the %2$d numbered editions of this piece are left.', $left, 'scripthammer' ), $left, $count );
	}

	/**
	 * Filter woocommerce_add_to_cart_validation: never more editions in the cart than are left (the
	 * companion would issue none of them). WooCommerce's own stock check refuses too; this one says so in
	 * the band's words, on the stand-ins as on the real shop.
	 *
	 * @param bool $passed     Valid so far.
	 * @param int  $product_id Product.
	 * @param int  $quantity   Quantity asked for.
	 * @return bool
	 */
	public static function validate_add_to_cart( $passed, $product_id, $quantity = 1 ) {
		$product_id = (int) $product_id;
		if ( ! $passed || '' === self::work_of( $product_id ) ) {
			return $passed;
		}
		$left    = max( 0, (int) get_post_meta( $product_id, '_stock', true ) );
		$count   = max( 1, (int) get_post_meta( $product_id, self::COUNT_META, true ) );
		$in_cart = 0;
		if ( function_exists( 'WC' ) && WC()->cart ) {
			foreach ( WC()->cart->get_cart() as $item ) {
				if ( (int) ( $item['product_id'] ?? 0 ) === $product_id ) {
					$in_cart += (int) ( $item['quantity'] ?? 0 );
				}
			}
		}
		if ( max( 1, (int) $quantity ) + $in_cart <= $left ) {
			return $passed;
		}
		if ( function_exists( 'wc_add_notice' ) ) {
			wc_add_notice( self::beyond_count_message( $left, $count ), 'error' );
		}
		return false;
	}

	/**
	 * Filters woocommerce_rest_prepare_shop_order_object (REST responses and so webhook bodies): each
	 * line item selling an edition says of which work ("scripthammer_edition").
	 *
	 * @param \WP_REST_Response $response The response.
	 * @return \WP_REST_Response
	 */
	public static function annotate_line_items( $response ) {
		return Commerce::annotate_line_items(
			$response,
			static fn( int $product ) => '' === self::work_of( $product ) ? array() : array( 'scripthammer_edition' => self::work_of( $product ) )
		);
	}
}
