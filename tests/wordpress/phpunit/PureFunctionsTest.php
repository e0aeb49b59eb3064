<?php
use PHPUnit\Framework\TestCase;
use ScriptHammer\Commerce;
use ScriptHammer\RestApi;

final class PureFunctionsTest extends TestCase {
	/** @dataProvider amounts */
	public function test_tip_amounts( $raw, ?float $expected ): void {
		$this->assertSame( $expected, Commerce::parse_tip_amount( $raw, 2.0, 500.0 ) );
	}

	public function amounts(): array {
		return array(
			'integer'        => array( '7', 7.0 ),
			'two decimals'   => array( '7.50', 7.5 ),
			'comma'          => array( '7,50', 7.5 ),
			'spaces'         => array( ' 12 ', 12.0 ),
			'minimum'        => array( '2', 2.0 ),
			'maximum'        => array( '500', 500.0 ),
			'below minimum'  => array( '1.99', null ),
			'above maximum'  => array( '500.01', null ),
			'three decimals' => array( '7.123', null ),
			'negative'       => array( '-5', null ),
			'words'          => array( 'five', null ),
			'exponent'       => array( '1e2', null ),
			'empty'          => array( '', null ),
			'array'          => array( array( '5' ), null ),
			'null'           => array( null, null ),
		);
	}

	public function test_waveform_points_are_scaled_and_limited(): void {
		$data = array();
		for ( $i = 0; $i < 1000; $i++ ) {
			$v      = (int) round( 1000 * sin( $i / 50 ) );
			$data[] = -abs( $v );
			$data[] = abs( $v );
		}
		$points = RestApi::waveform_points( array( 'bits' => 16, 'channels' => 1, 'data' => $data ), 100 );
		$this->assertCount( 100, $points );
		$this->assertSame( 1.0, max( $points ) );
		$this->assertGreaterThanOrEqual( 0.0, min( $points ) );
		$this->assertSame( array(), RestApi::waveform_points( array( 'data' => array() ), 100 ) );
	}
}
