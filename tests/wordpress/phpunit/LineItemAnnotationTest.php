<?php
/**
 * The line item annotations of an order's REST response (and so of its webhook body), run through the
 * same chain of filters the plugin registers on woocommerce_rest_prepare_shop_order_object: what each
 * product sells, in the fields the companion reads (companion/commerce/entitlements.py): scripthammer_scope
 * (releases), scripthammer_licence, scripthammer_edition (the work), scripthammer_bundle and
 * scripthammer_bundle_items. Product meta comes from a small in-memory get_post_meta (WordPress itself
 * is exercised by the pytest suite against a real site).
 */

use PHPUnit\Framework\TestCase;
use ScriptHammer\BundleProducts;
use ScriptHammer\EditionProducts;
use ScriptHammer\LicenceProducts;
use ScriptHammer\ReleaseProducts;

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

final class LineItemAnnotationTest extends TestCase {

	protected function setUp(): void {
		$GLOBALS['sh_test_meta'] = array(
			501 => array( '_scripthammer_product' => 'release', '_scripthammer_scope' => 'track:7' ),
			600 => array( '_scripthammer_product' => 'tip' ),
			701 => array( '_scripthammer_product' => 'edition', '_scripthammer_edition' => 'composition:12' ),
			702 => array( '_scripthammer_product' => 'edition', '_scripthammer_edition' => 'version:12@v2' ),
			703 => array( '_scripthammer_product' => 'edition', '_scripthammer_edition' => 'composition:1; DROP' ),
			704 => array( '_scripthammer_product' => 'release', '_scripthammer_edition' => 'composition:12' ),
			801 => array( '_scripthammer_product' => 'licence', '_scripthammer_licence' => 'reed:commercial' ),
			901 => array(
				'_scripthammer_product'      => 'bundle',
				'_scripthammer_bundle'       => 'starter-kit',
				'_scripthammer_bundle_items' => '["track:7","album:3","licence:ivory:non-commercial"]',
			),
			902 => array(
				'_scripthammer_product'      => 'bundle',
				'_scripthammer_bundle'       => 'broken',
				'_scripthammer_bundle_items' => '["track:7","all"]',
			),
			903 => array(
				'_scripthammer_product'      => 'bundle',
				'_scripthammer_bundle'       => 'twice',
				'_scripthammer_bundle_items' => '["track:7","track:7"]',
			),
		);
	}

	/** The order's line items after every annotator, in the plugin's priority order. */
	private function annotated( array $product_ids ): array {
		$items = array();
		foreach ( $product_ids as $n => $pid ) {
			$items[] = array( 'id' => 9000 + $n, 'product_id' => $pid, 'quantity' => 1 );
		}
		$response = new WP_REST_Response( array( 'id' => 101, 'line_items' => $items ) );
		foreach ( array( ReleaseProducts::class, LicenceProducts::class, EditionProducts::class, BundleProducts::class ) as $class ) {
			$response = $class::annotate_line_items( $response );
		}
		$out = array();
		foreach ( $response->get_data()['line_items'] as $item ) {
			unset( $item['id'], $item['quantity'] );
			$out[] = $item;
		}
		return $out;
	}

	public function test_an_edition_line_item_names_its_work(): void {
		$this->assertSame(
			array(
				array( 'product_id' => 701, 'scripthammer_edition' => 'composition:12' ),
				array( 'product_id' => 702, 'scripthammer_edition' => 'version:12@v2' ),
			),
			$this->annotated( array( 701, 702 ) )
		);
	}

	public function test_a_malformed_work_or_another_kind_is_not_an_edition(): void {
		$this->assertSame(
			array(
				array( 'product_id' => 703 ),
				array( 'product_id' => 704, 'scripthammer_scope' => '' ),
				array( 'product_id' => 0 ),
			),
			$this->annotated( array( 703, 704, 0 ) )
		);
	}

	public function test_a_bundle_line_item_lists_every_item_it_grants(): void {
		$this->assertSame(
			array(
				array(
					'product_id'                => 901,
					'scripthammer_bundle'       => 'starter-kit',
					'scripthammer_bundle_items' => array( 'track:7', 'album:3', 'licence:ivory:non-commercial' ),
				),
			),
			$this->annotated( array( 901 ) )
		);
	}

	public function test_a_bundle_with_a_bad_or_repeated_item_is_not_annotated(): void {
		$this->assertSame( array( array( 'product_id' => 902 ), array( 'product_id' => 903 ) ), $this->annotated( array( 902, 903 ) ) );
	}

	public function test_a_mixed_order_says_what_each_line_sells(): void {
		$this->assertSame(
			array(
				array( 'product_id' => 501, 'scripthammer_scope' => 'track:7' ),
				array( 'product_id' => 600, 'scripthammer_scope' => '' ),
				array( 'product_id' => 801, 'scripthammer_licence' => 'reed:commercial' ),
				array( 'product_id' => 701, 'scripthammer_edition' => 'composition:12' ),
				array(
					'product_id'                => 901,
					'scripthammer_bundle'       => 'starter-kit',
					'scripthammer_bundle_items' => array( 'track:7', 'album:3', 'licence:ivory:non-commercial' ),
				),
			),
			$this->annotated( array( 501, 600, 801, 701, 901 ) )
		);
	}

	/** @dataProvider bundle_items */
	public function test_bundle_items_validation( $items, bool $valid ): void {
		$this->assertSame( $valid, null !== BundleProducts::valid_items( $items ) );
	}

	public static function bundle_items(): array {
		return array(
			'tracks, albums, licences' => array( array( 'track:1', 'album:2', 'licence:crash:commercial' ), true ),
			'one item'                 => array( array( 'track:1' ), false ),
			'everything'               => array( array( 'track:1', 'all' ), false ),
			'a zero id'                => array( array( 'track:1', 'track:0' ), false ),
			'an unknown tier'          => array( array( 'track:1', 'licence:crash:gold' ), false ),
			'not a list'               => array( array( 'a' => 'track:1', 'b' => 'track:2' ), false ),
			'a number'                 => array( array( 'track:1', 7 ), false ),
			'a string'                 => array( 'track:1,track:2', false ),
			'501 items'                => array( array_map( static fn( $i ) => 'track:' . $i, range( 1, 501 ) ), false ),
		);
	}

	/** @dataProvider works */
	public function test_edition_works_follow_the_companions_rule( $work, string $expected ): void {
		$this->assertSame( $expected, EditionProducts::valid( $work ) );
	}

	public static function works(): array {
		return array(
			array( 'composition:12', 'composition:12' ),
			array( 'version:abc@v1.2', 'version:abc@v1.2' ),
			array( 'track:12', '' ),
			array( 'composition:', '' ),
			array( 'composition:a b', '' ),
			array( 'composition:' . str_repeat( 'a', 101 ), '' ),
			array( null, '' ),
			array( array( 'composition:1' ), '' ),
		);
	}
}
