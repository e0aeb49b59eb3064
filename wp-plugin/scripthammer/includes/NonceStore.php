<?php
/**
 * Nonces of signed requests already seen: a table with the nonce as primary key, so that
 * "remember" is one INSERT that fails for a replay, even under concurrent requests.
 *
 * @package ScriptHammer
 */

namespace ScriptHammer;

defined( 'ABSPATH' ) || exit;

/**
 * Replay protection for the signed REST namespace.
 */
final class NonceStore {

	public const DB_VERSION_OPTION = 'scripthammer_db_version';
	public const DB_VERSION        = '1';

	/**
	 * The table's name.
	 */
	public static function table(): string {
		global $wpdb;
		return $wpdb->prefix . 'scripthammer_nonces';
	}

	/**
	 * Create the table (idempotent).
	 */
	public static function install(): void {
		global $wpdb;
		require_once ABSPATH . 'wp-admin/includes/upgrade.php';
		$table   = self::table();
		$charset = $wpdb->get_charset_collate();
		dbDelta(
			"CREATE TABLE {$table} (
  nonce varchar(64) NOT NULL,
  expires_at bigint(20) unsigned NOT NULL,
  PRIMARY KEY  (nonce),
  KEY expires_at (expires_at)
) {$charset};"
		);
		update_option( self::DB_VERSION_OPTION, self::DB_VERSION, false );
	}

	/**
	 * Make sure the table exists (after an update that skipped activation).
	 */
	public static function maybe_install(): void {
		if ( get_option( self::DB_VERSION_OPTION ) !== self::DB_VERSION ) {
			self::install();
		}
	}

	/**
	 * Store a nonce; false when it was already there (a replay).
	 *
	 * @param string $nonce The nonce (validated by the Signer).
	 * @param int    $ttl   Seconds to keep it.
	 */
	public static function remember( string $nonce, int $ttl ): bool {
		global $wpdb;
		$table = self::table();
		$now   = time();
		if ( wp_rand( 1, 50 ) === 1 ) {
			// phpcs:ignore WordPress.DB.DirectDatabaseQuery
			$wpdb->query( $wpdb->prepare( "DELETE FROM {$table} WHERE expires_at < %d", $now ) ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		}
		$suppress = $wpdb->suppress_errors( true );
		// phpcs:ignore WordPress.DB.DirectDatabaseQuery
		$inserted = $wpdb->insert(
			$table,
			array(
				'nonce'      => $nonce,
				'expires_at' => $now + $ttl,
			),
			array( '%s', '%d' )
		);
		$wpdb->suppress_errors( $suppress );
		return 1 === $inserted;
	}

	/**
	 * Drop the table (uninstall).
	 */
	public static function uninstall(): void {
		global $wpdb;
		$table = self::table();
		$wpdb->query( "DROP TABLE IF EXISTS {$table}" ); // phpcs:ignore WordPress.DB
		delete_option( self::DB_VERSION_OPTION );
	}
}
