<?php
/**
 * The play attribution (sh_play) kept on order lines: only its shape is accepted, and an order's REST
 * response (so its webhook body) says it on the lines that carry it, with scripthammer_kind tip for the
 * tip product and purchase otherwise. WordPress and WooCommerce around it are exercised by pytest
 * (tests/wordpress/test_shop_flow.py).
 */

use PHPUnit\Framework\TestCase;
use ScriptHammer\Attribution;

if ( ! function_exists( 'get_post_meta' ) ) {
	/** In-memory product meta for these tests: $GLOBALS['sh_test_meta'][ id ][ key ]. */
	function get_post_meta( $id, $key = '', $single = false ) {
		return $GLOBALS['sh_test_meta'][ (int) $id ][ $key ] ?? '';
	}
}

if ( ! class_exists( 'WP_REST_Response' ) ) {
	/** The part of WP_REST_Response the annotators use. */
	class WP_REST_Response {
		public $data;
		public function __construct( $data = null ) { $this->data = $data; }
		public function get_data() { return $this->data; }
		public function set_data( $data ) { $this->data = $data; }
	}
}

/** An order line with its meta (as WC_Order_Item_Product's get_meta / add_meta_data). */
final class AttributionTestItem {
	public array $meta = array();
	public function get_meta( $key ) { return $this->meta[ $key ] ?? ''; }
	public function add_meta_data( $key, $value, $unique = false ) { $this->meta[ $key ] = $value; }
}

/** An order whose lines are AttributionTestItem by id. */
final class AttributionTestOrder {
	public function __construct( public array $items ) {}
	public function get_item( $id ) { return $this->items[ $id ] ?? false; }
}

final class AttributionTest extends TestCase {

	protected function setUp(): void {
		$GLOBALS['sh_test_meta'] = array(
			501 => array( '_scripthammer_product' => 'release', '_scripthammer_scope' => 'track:7' ),
			600 => array( '_scripthammer_product' => 'tip' ),
		);
	}

	public function test_only_a_session_and_a_track_id_are_accepted(): void {
		$this->assertSame( '3f9c2a0d1b7e4c55aa01b2c3.7', Attribution::clean( ' 3f9c2a0d1b7e4c55aa01b2c3.7 ' ) );
		$this->assertSame( 'dash-session_01.12345', Attribution::clean( 'dash-session_01.12345' ) );
		foreach ( array( '', 'short.7', '3f9c2a0d1b7e4c55aa01b2c3', '3f9c2a0d1b7e4c55aa01b2c3.0', '3f9c2a0d1b7e4c55aa01b2c3.-7',
			'3f9c2a0d1b7e4c55aa01b2c3.7.7', '3f9c2a0d1b7e4c55aa01b2c3.12345678901', '<script>x</script>.7',
			str_repeat( 'a', 65 ) . '.7', "3f9c2a0d1b7e4c55aa01b2c3.7\n8", null, 7, array( 'a' ) ) as $bad ) {
			$this->assertSame( '', Attribution::clean( $bad ), var_export( $bad, true ) );
		}
	}

	public function test_the_cart_item_keeps_it_and_the_order_line_gets_it(): void {
		$data = Attribution::add_cart_item_data( array( Attribution::CART_KEY => 'fan-session-0001.7', 'scripthammer_tip' => 5.0 ) );
		$this->assertSame( 'fan-session-0001.7', $data[ Attribution::CART_KEY ] );
		$this->assertSame( 5.0, $data['scripthammer_tip'] );
		$forged = Attribution::add_cart_item_data( array( Attribution::CART_KEY => 'fan-session-0001.7<b>' ) );
		$this->assertArrayNotHasKey( Attribution::CART_KEY, $forged );
		$item = new AttributionTestItem();
		Attribution::order_line_item( $item, 'key', $data );
		$this->assertSame( array( '_scripthammer_play' => 'fan-session-0001.7' ), $item->meta );
		$none = new AttributionTestItem();
		Attribution::order_line_item( $none, 'key', array( Attribution::CART_KEY => 'garbage' ) );
		$this->assertSame( array(), $none->meta );
	}

	public function test_the_orders_lines_say_it_and_what_they_are(): void {
		$tip      = new AttributionTestItem();
		$buy      = new AttributionTestItem();
		$plain    = new AttributionTestItem();
		$tampered = new AttributionTestItem();
		$tip->add_meta_data( '_scripthammer_play', 'fan-session-0001.7' );
		$buy->add_meta_data( '_scripthammer_play', 'fan-session-0001.7' );
		$tampered->add_meta_data( '_scripthammer_play', 'fan-session-0001.7"><script>' );
		$order    = new AttributionTestOrder( array( 1 => $tip, 2 => $buy, 3 => $plain, 4 => $tampered ) );
		$response = new WP_REST_Response( array( 'id' => 101, 'line_items' => array(
			array( 'id' => 1, 'product_id' => 600 ),
			array( 'id' => 2, 'product_id' => 501, 'scripthammer_scope' => 'track:7' ),
			array( 'id' => 3, 'product_id' => 501 ),
			array( 'id' => 4, 'product_id' => 600 ),
			array( 'id' => 5, 'product_id' => 600 ),
		) ) );
		$lines = Attribution::annotate_line_items( $response, $order )->get_data()['line_items'];
		$this->assertSame( array( 'id' => 1, 'product_id' => 600, 'scripthammer_play' => 'fan-session-0001.7', 'scripthammer_kind' => 'tip' ), $lines[0] );
		$this->assertSame( 'purchase', $lines[1]['scripthammer_kind'] );
		$this->assertSame( 'track:7', $lines[1]['scripthammer_scope'] );
		foreach ( array( 2, 3, 4 ) as $i ) {
			$this->assertArrayNotHasKey( 'scripthammer_play', $lines[ $i ] );
		}
		// without the order (another filter's call): unchanged
		$this->assertSame( $response, Attribution::annotate_line_items( $response ) );
	}
}
