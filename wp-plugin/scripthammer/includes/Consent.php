<?php
/**
 * The site's consent setting for listening statistics, carried to the players.
 *
 * With Settings → ScriptHammer → "Listening statistics consent" set to "required", a player counts
 * nothing until the visitor consents to the "statistics" category:
 * - the WP Consent API, when a consent plugin provides it: wp_has_consent( 'statistics' ) on the page
 *   (PHP, then JS), and its "wp_listen_for_consent_change" event for later changes;
 * - otherwise the `scripthammer_analytics_consent` filter (PHP: return true or false), the cookie
 *   `scripthammer_analytics_consent` (allow / deny), or a "scripthammer:consent" event on document with
 *   detail { statistics: true|false } from the site's own banner.
 * The embed's fragment carries the consent known when the page was made (shc=1 / shc=0), and
 * assets/js/consent.js posts every change to the players' iframes (their setConsent command).
 *
 * @package ScriptHammer
 */

namespace ScriptHammer;

defined( 'ABSPATH' ) || exit;

/**
 * Whether the visitor consented to statistics, and the script that follows changes.
 */
final class Consent {

	/**
	 * The WP Consent API's category.
	 */
	public const CATEGORY = 'statistics';

	/**
	 * The fallback cookie (allow / deny).
	 */
	public const COOKIE = 'scripthammer_analytics_consent';

	/**
	 * The script's handle.
	 */
	public const SCRIPT = 'scripthammer-consent';

	/**
	 * Register the hooks.
	 */
	public static function register(): void {
		add_action( 'init', array( self::class, 'register_script' ) );
		// This plugin follows the WP Consent API (it asks before counting when the site requires it).
		add_filter( 'wp_consent_api_registered_' . plugin_basename( SCRIPTHAMMER_FILE ), '__return_true' );
	}

	/**
	 * Whether the site asks for consent to listening statistics.
	 */
	public static function required(): bool {
		return 'required' === Settings::get( 'analytics_consent' );
	}

	/**
	 * The visitor's consent to statistics as this request knows it (false when unknown).
	 */
	public static function given(): bool {
		/**
		 * Filters the visitor's consent to listening statistics (null: not decided here).
		 *
		 * @param bool|null $consent The consent.
		 */
		$consent = apply_filters( 'scripthammer_analytics_consent', null );
		if ( null === $consent && function_exists( 'wp_has_consent' ) ) {
			$consent = (bool) wp_has_consent( self::CATEGORY );
		}
		if ( null === $consent ) {
			$consent = isset( $_COOKIE[ self::COOKIE ] ) && 'allow' === sanitize_key( wp_unslash( $_COOKIE[ self::COOKIE ] ) );
		}
		return (bool) $consent;
	}

	/**
	 * Register the page script.
	 */
	public static function register_script(): void {
		wp_register_script( self::SCRIPT, plugins_url( 'assets/js/consent.js', SCRIPTHAMMER_FILE ), array(), SCRIPTHAMMER_VERSION, true );
	}

	/**
	 * The players' origin (scheme://host[:port]): consent is posted to that origin only.
	 */
	private static function companion_origin(): string {
		$url = wp_parse_url( Settings::companion_public_url() );
		if ( ! is_array( $url ) || empty( $url['scheme'] ) || empty( $url['host'] ) ) {
			return '*';
		}
		return $url['scheme'] . '://' . $url['host'] . ( isset( $url['port'] ) ? ':' . (int) $url['port'] : '' );
	}

	/**
	 * Put the script on this page (a player is on it and the site asks for consent).
	 */
	public static function enqueue(): void {
		if ( ! wp_script_is( self::SCRIPT, 'registered' ) ) {
			self::register_script();
		}
		wp_enqueue_script( self::SCRIPT );
		wp_localize_script(
			self::SCRIPT,
			'scripthammerConsent',
			array(
				'category' => self::CATEGORY,
				'cookie'   => self::COOKIE,
				'origin'   => self::companion_origin(),
			)
		);
	}
}
