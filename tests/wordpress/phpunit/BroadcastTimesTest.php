<?php
use PHPUnit\Framework\TestCase;
use ScriptHammer\Broadcasts;

/**
 * The meta box's time conversion: what an editor types in the site's timezone, as the companion's UTC.
 */
final class BroadcastTimesTest extends TestCase {
	/** @dataProvider times */
	public function test_site_time_to_utc( string $typed, string $zone, string $utc ): void {
		$this->assertSame( $utc, Broadcasts::to_utc( $typed, new DateTimeZone( $zone ) ) );
	}

	public function times(): array {
		return array(
			'Berlin winter'          => array( '2026-12-24T20:00', 'Europe/Berlin', '2026-12-24T19:00:00Z' ),
			'Berlin summer'          => array( '2026-07-01T20:00', 'Europe/Berlin', '2026-07-01T18:00:00Z' ),
			'with seconds'           => array( '2026-12-24T20:00:30', 'UTC', '2026-12-24T20:00:30Z' ),
			'space separated'        => array( '2026-12-24 20:00', 'America/New_York', '2026-12-25T01:00:00Z' ),
			'past midnight in UTC'   => array( '2026-12-31T23:30', 'America/Los_Angeles', '2027-01-01T07:30:00Z' ),
			'a fixed offset site'    => array( '2026-12-24T20:00', '+05:30', '2026-12-24T14:30:00Z' ),
			'surrounding whitespace' => array( ' 2026-12-24T20:00 ', 'UTC', '2026-12-24T20:00:00Z' ),
		);
	}

	public function test_utc_back_to_the_sites_time_for_the_input(): void {
		$this->assertSame( '2026-12-24T20:00', Broadcasts::to_local( '2026-12-24T19:00:00Z', new DateTimeZone( 'Europe/Berlin' ) ) );
		$this->assertSame( '', Broadcasts::to_local( 'not a time', new DateTimeZone( 'UTC' ) ) );
	}
}
