<?php
/**
 * Name-your-price products: the tip (between the band's minimum and maximum) and the band's releases
 * (a track or an album, at least its minimum price, Bandcamp style). The fan's amount is checked on the
 * server in every way into the cart: the product page's form, the tip jar, WooCommerce's AJAX
 * add-to-cart and the Store API (/wc/store/v1/cart/add-item), where a refused amount is a 400 with the
 * message, never a 500.
 *
 * @package ScriptHammer
 */

namespace ScriptHammer;

defined( 'ABSPATH' ) || exit;

/**
 * The amount field, its validation and the cart price.
 */
final class Amounts {

	/** The form field (and Store API parameter) with the fan's amount (the player's tip jar sends it too). */
	public const FIELD    = 'scripthammer_tip_amount';
	public const CART_KEY = 'scripthammer_tip';

	/**
	 * Amounts the Store API request already validated, by product id (its JSON body is not in $_REQUEST).
	 *
	 * @var array<int,float>
	 */
	private static array $accepted = array();

	/**
	 * Parse a fan's amount; null unless it is a number with at most two decimals in [min, max].
	 *
	 * @param mixed $raw The submitted value ("7", "7.50", "7,50").
	 * @param float $min The minimum.
	 * @param float $max The maximum.
	 */
	public static function parse( $raw, float $min, float $max ): ?float {
		if ( ! is_scalar( $raw ) ) {
			return null;
		}
		$text = str_replace( ',', '.', trim( (string) $raw ) );
		if ( ! preg_match( '/^\d{1,7}(\.\d{1,2})?$/', $text ) ) {
			return null;
		}
		$amount = round( (float) $text, 2 );
		if ( $amount < $min || $amount > $max || ( $amount <= 0 && $min > 0 ) ) {
			return null;
		}
		return $amount;
	}

	/**
	 * The limits of a product whose price the fan names, or null for any other product.
	 *
	 * @param int $product_id The product.
	 * @return array{0:float,1:float}|null
	 */
	public static function limits( int $product_id ): ?array {
		if ( $product_id <= 0 ) {
			return null;
		}
		$kind = (string) get_post_meta( $product_id, Commerce::PRODUCT_META, true );
		if ( 'tip' === $kind ) {
			return Commerce::tip_limits();
		}
		$nyp_kinds = array( LicenceProducts::KIND, EditionProducts::KIND );
		if ( ReleaseProducts::KIND === $kind || ( in_array( $kind, $nyp_kinds, true ) && 'no' !== get_post_meta( $product_id, '_scripthammer_name_your_price', true ) ) ) {
			$min = max( 0.0, (float) get_post_meta( $product_id, ReleaseProducts::MIN_PRICE_META, true ) );
			return array( $min, max( $min, (float) Settings::get( 'price_max' ) ) );
		}
		return null;
	}

	/**
	 * The message for a refused amount.
	 *
	 * @param array{0:float,1:float} $limits Minimum and maximum.
	 */
	public static function message( array $limits ): string {
		[ $min, $max ] = $limits;
		$fmt           = static fn( float $v ): string => function_exists( 'wc_price' ) ? wp_strip_all_tags( html_entity_decode( wc_price( $v ) ) ) : number_format( $v, 2 );
		/* translators: 1: minimum, 2: maximum */
		return sprintf( __( 'Choose an amount between %1$s and %2$s.', 'scripthammer' ), $fmt( $min ), $fmt( $max ) );
	}

	/**
	 * The fan's amount for a product from the request (form field or query), validated; null when
	 * missing or out of range.
	 *
	 * @param array{0:float,1:float} $limits Minimum and maximum.
	 */
	private static function requested( array $limits ): ?float {
		// phpcs:ignore WordPress.Security.NonceVerification -- WooCommerce's add-to-cart has no nonce; the amount is validated here.
		$raw = isset( $_REQUEST[ self::FIELD ] ) ? sanitize_text_field( wp_unslash( $_REQUEST[ self::FIELD ] ) ) : null;
		return null === $raw ? null : self::parse( $raw, $limits[0], $limits[1] );
	}

	/**
	 * The exception for a refused amount: the Store API's RouteException (a 400 with this message) when
	 * WooCommerce has it; WC_Cart::add_to_cart turns any exception into a notice.
	 *
	 * @param array{0:float,1:float} $limits Minimum and maximum.
	 */
	private static function refusal( array $limits ): \Exception {
		$class = '\\Automattic\\WooCommerce\\StoreApi\\Exceptions\\RouteException';
		$text  = self::message( $limits );
		return class_exists( $class ) ? new $class( 'scripthammer_amount_invalid', $text, 400 ) : new \Exception( $text );
	}

	/**
	 * Filter woocommerce_add_to_cart_validation: refuse a name-your-price product without a valid amount.
	 *
	 * @param bool $passed     Valid so far.
	 * @param int  $product_id Product.
	 * @return bool
	 */
	public static function validate_add_to_cart( $passed, $product_id ) {
		$limits = self::limits( (int) $product_id );
		if ( null === $limits || isset( self::$accepted[ (int) $product_id ] ) || null !== self::requested( $limits ) ) {
			return $passed;
		}
		if ( function_exists( 'wc_add_notice' ) ) {
			wc_add_notice( self::message( $limits ), 'error' );
		}
		return false;
	}

	/**
	 * Filter woocommerce_store_api_add_to_cart_data: the Store API's add-item takes the amount as the
	 * request parameter scripthammer_tip_amount (JSON body or query).
	 *
	 * @param array<string,mixed> $data    id, quantity, variation, cart_item_data.
	 * @param \WP_REST_Request    $request The Store API request.
	 * @return array<string,mixed>
	 * @throws \Exception A 400 RouteException when the amount is missing or out of range.
	 */
	public static function store_api_add_to_cart_data( $data, $request ) {
		$limits = self::limits( (int) ( $data['id'] ?? 0 ) );
		if ( null === $limits ) {
			return $data;
		}
		$amount = self::parse( is_object( $request ) ? $request->get_param( self::FIELD ) : null, $limits[0], $limits[1] );
		if ( null === $amount ) {
			throw self::refusal( $limits ); // phpcs:ignore WordPress.Security.EscapeOutput.ExceptionNotEscaped -- JSON, escaped by the REST server.
		}
		self::$accepted[ (int) $data['id'] ]      = $amount;
		$data['cart_item_data']                   = (array) ( $data['cart_item_data'] ?? array() );
		$data['cart_item_data'][ self::CART_KEY ] = $amount;
		return $data;
	}

	/**
	 * Filter woocommerce_add_cart_item_data: remember the fan's amount on the cart item. This runs inside
	 * every way into the cart (form, AJAX, Store API, code), so a missing or out-of-range amount is refused
	 * here too.
	 *
	 * @param array<string,mixed> $data       Cart item data.
	 * @param int                 $product_id Product.
	 * @return array<string,mixed>
	 * @throws \Exception When the amount is missing or out of range.
	 */
	public static function add_cart_item_data( $data, $product_id ) {
		$limits = self::limits( (int) $product_id );
		if ( null === $limits ) {
			return $data;
		}
		$data   = is_array( $data ) ? $data : array();
		$amount = isset( $data[ self::CART_KEY ] ) ? self::parse( number_format( (float) $data[ self::CART_KEY ], 2, '.', '' ), $limits[0], $limits[1] ) : self::requested( $limits );
		if ( null === $amount ) {
			throw self::refusal( $limits ); // phpcs:ignore WordPress.Security.EscapeOutput.ExceptionNotEscaped -- shown through wc_add_notice / the REST server, both escape.
		}
		$data[ self::CART_KEY ] = $amount;
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
	 * Action woocommerce_before_calculate_totals: the price is the fan's amount (checked again).
	 *
	 * @param object $cart The WC_Cart.
	 */
	public static function apply_prices( $cart ): void {
		if ( ! is_object( $cart ) || ! method_exists( $cart, 'get_cart' ) ) {
			return;
		}
		foreach ( $cart->get_cart() as $key => $item ) {
			if ( ! isset( $item[ self::CART_KEY ] ) || ! isset( $item['data'] ) ) {
				continue;
			}
			$limits = self::limits( (int) ( $item['product_id'] ?? 0 ) );
			$amount = null === $limits ? null : self::parse( number_format( (float) $item[ self::CART_KEY ], 2, '.', '' ), $limits[0], $limits[1] );
			if ( null === $amount ) {
				$cart->remove_cart_item( $key );
				continue;
			}
			$item['data']->set_price( $amount );
		}
	}

	/**
	 * Action woocommerce_before_add_to_cart_button: the amount field on the product's own page, so that
	 * the page's button works (a refused AJAX add-to-cart sends fans here).
	 */
	public static function product_page_field(): void {
		global $product;
		$id     = is_object( $product ) && method_exists( $product, 'get_id' ) ? (int) $product->get_id() : 0;
		$limits = self::limits( $id );
		if ( null === $limits ) {
			return;
		}
		[ $min, $max ] = $limits;
		// phpcs:ignore WordPress.Security.NonceVerification -- only refills the field after a refused try.
		$value = isset( $_REQUEST[ self::FIELD ] ) ? sanitize_text_field( wp_unslash( $_REQUEST[ self::FIELD ] ) ) : number_format( max( $min, 'tip' === get_post_meta( $id, Commerce::PRODUCT_META, true ) ? 5.0 : $min ), 2, '.', '' );
		printf(
			'<p class="scripthammer-amount"><label for="scripthammer-amount">%1$s</label> <input id="scripthammer-amount" type="number" name="%2$s" min="%3$s" max="%4$s" step="0.01" value="%5$s" required /> <span class="description">%6$s</span></p>',
			esc_html__( 'Your amount', 'scripthammer' ),
			esc_attr( self::FIELD ),
			esc_attr( number_format( $min, 2, '.', '' ) ),
			esc_attr( number_format( $max, 2, '.', '' ) ),
			esc_attr( $value ),
			esc_html( self::message( $limits ) )
		);
	}

	/**
	 * Filter woocommerce_product_supports: no AJAX add-to-cart from lists for products whose price the fan
	 * names (there is no amount there); their button leads to the product page instead.
	 *
	 * @param bool   $supports Supported so far.
	 * @param string $feature  The feature.
	 * @param object $product  The product.
	 */
	public static function product_supports( $supports, $feature, $product ) {
		if ( 'ajax_add_to_cart' === $feature && is_object( $product ) && null !== self::limits( (int) $product->get_id() ) ) {
			return false;
		}
		return $supports;
	}

	/**
	 * Filter woocommerce_product_add_to_cart_url: lists link to the product page (where the amount is).
	 *
	 * @param string $url     The URL.
	 * @param object $product The product.
	 */
	public static function add_to_cart_url( $url, $product ) {
		return is_object( $product ) && null !== self::limits( (int) $product->get_id() ) ? get_permalink( (int) $product->get_id() ) : $url;
	}

	/**
	 * Filter woocommerce_product_add_to_cart_text: "Choose an amount" in lists.
	 *
	 * @param string $text    The button text.
	 * @param object $product The product.
	 */
	public static function add_to_cart_text( $text, $product ) {
		return is_object( $product ) && null !== self::limits( (int) $product->get_id() ) ? __( 'Choose an amount', 'scripthammer' ) : $text;
	}

	/**
	 * Filter woocommerce_get_price_html: "From $1.00 — name your price".
	 *
	 * @param string $html    The price.
	 * @param object $product The product.
	 */
	public static function price_html( $html, $product ) {
		$limits = is_object( $product ) ? self::limits( (int) $product->get_id() ) : null;
		if ( null === $limits || ! function_exists( 'wc_price' ) ) {
			return $html;
		}
		/* translators: %s: minimum price */
		return sprintf( esc_html__( 'From %s — name your price', 'scripthammer' ), wc_price( $limits[0] ) );
	}
}
