<?php
/**
 * Plugin Name: ScriptHammer test stand-in: WP Consent API (NOT the WP Consent API plugin)
 * Description: Test code only (tests/wordpress/test_consent.py puts it in mu-plugins). Reproduces the
 * part of the WP Consent API's documented surface the ScriptHammer plugin uses: wp_has_consent() on the
 * server (cookie wp_consent_<category> = allow | deny) and in JS, and wp_set_consent( category, value ) in
 * JS, which sets that cookie and fires the document event wp_listen_for_consent_change with detail
 * { <category>: value }.
 *
 * @package ScriptHammerTests
 */

defined( 'ABSPATH' ) || exit;

if ( ! function_exists( 'wp_has_consent' ) ) {
	/**
	 * Whether the visitor consented to a category.
	 *
	 * @param string $category statistics, marketing...
	 */
	function wp_has_consent( $category ) {
		$name = 'wp_consent_' . sanitize_key( (string) $category );
		return isset( $_COOKIE[ $name ] ) && 'allow' === sanitize_key( wp_unslash( $_COOKIE[ $name ] ) );
	}
}

add_action(
	'wp_head',
	static function () {
		?>
<script id="standin-wp-consent-api">
window.wp_has_consent = function ( category ) {
	var m = document.cookie.match( new RegExp( '(?:^|; )wp_consent_' + category + '=([^;]*)' ) );
	return !! m && m[ 1 ] === 'allow';
};
window.wp_set_consent = function ( category, value ) {
	document.cookie = 'wp_consent_' + category + '=' + value + '; path=/; SameSite=Lax';
	var detail = {};
	detail[ category ] = value;
	document.dispatchEvent( new CustomEvent( 'wp_listen_for_consent_change', { detail: detail } ) );
};
</script>
		<?php
	},
	1
);
