<?php
/**
 * Apps sign in with the device authorization grant (RFC 8628): the app shows a code, and the fan
 * confirms it here. The page /?scripthammer_device=1 (the companion's verification_uri; with
 * &user_code=XXXX-XXXX when the app links to it) asks a signed-in fan for the code, shows which app
 * asks and lets them approve or deny. The companion is told with a signed request naming the
 * signed-in WordPress user (companion/access/device_api.py); the browser never says who the fan is.
 * Wrong codes are counted per fan by the companion (429 after a few); every step has a nonce.
 *
 * @package ScriptHammer
 */

namespace ScriptHammer;

defined( 'ABSPATH' ) || exit;

/**
 * The device confirmation page.
 */
final class DeviceFlow {

	public const QUERY         = 'scripthammer_device';
	public const NONCE_CHECK   = 'scripthammer_device_check';
	public const NONCE_DECIDE  = 'scripthammer_device_decide';

	/**
	 * Hooks (called once by Plugin).
	 */
	public static function register(): void {
		add_action( 'template_redirect', array( self::class, 'maybe_handle' ), 1 );
		add_action( 'delete_user', array( self::class, 'sign_out_apps' ) );
		add_action( 'after_password_reset', array( self::class, 'sign_out_apps' ) );
	}

	/**
	 * A deleted user, or one who reset their password, is signed out of every app: the companion stops
	 * their refresh tokens (their access tokens end within the hour). Failures are logged, not shown.
	 *
	 * @param int|\WP_User $user The user (delete_user passes an id, after_password_reset a WP_User).
	 */
	public static function sign_out_apps( $user ): void {
		$id = $user instanceof \WP_User ? (int) $user->ID : (int) $user;
		if ( $id <= 0 || '' === Settings::companion_url() ) {
			return;
		}
		$done = Companion::from_settings()->request( 'POST', '/api/auth/device/revoke', array( 'wp_user_id' => $id ) );
		if ( is_wp_error( $done ) ) {
			// phpcs:ignore WordPress.PHP.DevelopmentFunctions.error_log_error_log -- an operator must see it.
			error_log( 'ScriptHammer: could not sign user ' . $id . ' out of their apps: ' . $done->get_error_message() );
		}
	}

	/**
	 * The page's URL (with a code to prefill).
	 *
	 * @param string $code User code, or ''.
	 */
	public static function url( string $code = '' ): string {
		$args = array( self::QUERY => '1' );
		if ( '' !== $code ) {
			$args['user_code'] = $code;
		}
		return add_query_arg( $args, home_url( '/' ) );
	}

	/**
	 * A typed code as the companion accepts it: letters, dashes and spaces only, at most 32.
	 *
	 * @param mixed $raw Raw input.
	 */
	public static function clean_code( $raw ): string {
		$code = preg_replace( '/[^A-Za-z \-]/', '', sanitize_text_field( (string) $raw ) );
		return substr( strtoupper( trim( (string) $code ) ), 0, 32 );
	}

	/**
	 * On template_redirect: answer /?scripthammer_device=1 and stop.
	 */
	public static function maybe_handle(): void {
		// phpcs:ignore WordPress.Security.NonceVerification.Recommended -- the page itself changes nothing.
		if ( ! isset( $_GET[ self::QUERY ] ) ) {
			return;
		}
		nocache_headers();
		send_frame_options_header();
		// phpcs:ignore WordPress.Security.NonceVerification.Recommended -- only prefills the field.
		$prefill = self::clean_code( isset( $_GET['user_code'] ) ? wp_unslash( $_GET['user_code'] ) : '' );
		if ( ! is_user_logged_in() ) {
			wp_safe_redirect( wp_login_url( self::url( $prefill ) ) );
			exit;
		}
		$method = isset( $_SERVER['REQUEST_METHOD'] ) ? strtoupper( sanitize_key( wp_unslash( $_SERVER['REQUEST_METHOD'] ) ) ) : 'GET';
		$step   = 'POST' === $method && isset( $_POST['step'] ) ? sanitize_key( wp_unslash( $_POST['step'] ) ) : '';
		if ( 'check' === $step ) {
			self::check();
		} elseif ( 'decide' === $step ) {
			self::decide();
		} else {
			self::page( self::code_form( $prefill ) );
		}
		exit;
	}

	/**
	 * Step 2: the fan typed a code; show which app asks.
	 */
	private static function check(): void {
		if ( ! wp_verify_nonce( isset( $_POST['_wpnonce'] ) ? sanitize_text_field( wp_unslash( $_POST['_wpnonce'] ) ) : '', self::NONCE_CHECK ) ) {
			self::page( self::notice( __( 'This form has expired: please type the code again.', 'scripthammer' ) ) . self::code_form( '' ), 403 );
			return;
		}
		$code = self::clean_code( isset( $_POST['user_code'] ) ? wp_unslash( $_POST['user_code'] ) : '' );
		$got  = Companion::from_settings()->request(
			'POST',
			'/api/auth/device/lookup',
			array(
				'user_code'  => '' === $code ? '-' : $code,
				'wp_user_id' => get_current_user_id(),
			)
		);
		if ( is_wp_error( $got ) ) {
			self::page( self::notice( self::why( $got ) ) . self::code_form( $code ), self::status_of( $got ) );
			return;
		}
		$user = wp_get_current_user();
		$app  = (string) ( $got['client_name'] ?? '' );
		$html = '<p id="scripthammer-device-ask">' . esc_html(
			sprintf(
				/* translators: 1: app name, 2: the fan's display name */
				__( '%1$s asks to sign in as %2$s: it will play what you may hear and download on this site.', 'scripthammer' ),
				$app,
				$user->display_name
			)
		) . '</p>';
		$html .= '<p>' . esc_html__( 'Code', 'scripthammer' ) . ': <strong>' . esc_html( (string) ( $got['user_code'] ?? '' ) ) . '</strong></p>';
		$html .= '<form method="post" action="' . esc_url( self::url() ) . '">'
			. wp_nonce_field( self::NONCE_DECIDE, '_wpnonce', false, false )
			. '<input type="hidden" name="step" value="decide">'
			. '<input type="hidden" name="user_code" value="' . esc_attr( (string) ( $got['user_code'] ?? '' ) ) . '">'
			. '<button type="submit" name="decision" value="approve" id="scripthammer-device-approve">' . esc_html__( 'Approve', 'scripthammer' ) . '</button> '
			. '<button type="submit" name="decision" value="deny" id="scripthammer-device-deny">' . esc_html__( 'Deny', 'scripthammer' ) . '</button>'
			. '</form>';
		self::page( $html );
	}

	/**
	 * Step 3: the fan's answer, told to the companion for the signed-in user.
	 */
	private static function decide(): void {
		if ( ! wp_verify_nonce( isset( $_POST['_wpnonce'] ) ? sanitize_text_field( wp_unslash( $_POST['_wpnonce'] ) ) : '', self::NONCE_DECIDE ) ) {
			self::page( self::notice( __( 'This form has expired: please type the code again.', 'scripthammer' ) ) . self::code_form( '' ), 403 );
			return;
		}
		$code    = self::clean_code( isset( $_POST['user_code'] ) ? wp_unslash( $_POST['user_code'] ) : '' );
		$approve = isset( $_POST['decision'] ) && 'approve' === sanitize_key( wp_unslash( $_POST['decision'] ) );
		$user    = wp_get_current_user();
		$got     = Companion::from_settings()->request(
			'POST',
			'/api/auth/device/decision',
			array(
				'user_code'    => '' === $code ? '-' : $code,
				'wp_user_id'   => (int) $user->ID,
				'display_name' => (string) $user->display_name,
				'approve'      => $approve,
			)
		);
		if ( is_wp_error( $got ) ) {
			self::page( self::notice( self::why( $got ) ) . self::code_form( $code ), self::status_of( $got ) );
			return;
		}
		$app  = (string) ( $got['client_name'] ?? '' );
		$text = $approve
			/* translators: %s: app name */
			? sprintf( __( '%s is signed in. You can go back to the app.', 'scripthammer' ), $app )
			/* translators: %s: app name */
			: sprintf( __( '%s was not signed in.', 'scripthammer' ), $app );
		self::page( '<p id="scripthammer-device-done" data-status="' . esc_attr( $approve ? 'approved' : 'denied' ) . '">' . esc_html( $text ) . '</p>' );
	}

	/**
	 * What went wrong, in a fan's words.
	 *
	 * @param \WP_Error $error The companion's refusal.
	 */
	private static function why( \WP_Error $error ): string {
		switch ( $error->get_error_code() ) {
			case 'scripthammer_device_code_unknown':
				return __( 'No app is waiting for this code. Check it, or start again in the app: codes last a few minutes and work once.', 'scripthammer' );
			case 'scripthammer_too_many_wrong_codes':
				return __( 'Too many wrong codes: wait a few minutes and try again.', 'scripthammer' );
			default:
				return __( 'The app could not be signed in right now; try again in a minute.', 'scripthammer' );
		}
	}

	/**
	 * The HTTP status to answer with for a refusal.
	 *
	 * @param \WP_Error $error The companion's refusal.
	 */
	private static function status_of( \WP_Error $error ): int {
		$data   = $error->get_error_data();
		$status = is_array( $data ) && isset( $data['status'] ) ? (int) $data['status'] : 503;
		return in_array( $status, array( 404, 429 ), true ) ? $status : 503;
	}

	/**
	 * A notice paragraph.
	 *
	 * @param string $text The text.
	 */
	private static function notice( string $text ): string {
		return '<p id="scripthammer-device-error" role="alert">' . esc_html( $text ) . '</p>';
	}

	/**
	 * Step 1: the code form.
	 *
	 * @param string $code Code to prefill.
	 */
	private static function code_form( string $code ): string {
		return '<form method="post" action="' . esc_url( self::url() ) . '">'
			. wp_nonce_field( self::NONCE_CHECK, '_wpnonce', false, false )
			. '<input type="hidden" name="step" value="check">'
			. '<p><label for="scripthammer-device-code">' . esc_html__( 'The code your app shows', 'scripthammer' ) . '</label> '
			. '<input id="scripthammer-device-code" name="user_code" value="' . esc_attr( $code ) . '" autocomplete="off" autocapitalize="characters" spellcheck="false" maxlength="32" required></p>'
			. '<p><button type="submit" id="scripthammer-device-continue">' . esc_html__( 'Continue', 'scripthammer' ) . '</button></p>'
			. '</form>';
	}

	/**
	 * Print the whole page.
	 *
	 * @param string $body   Escaped HTML.
	 * @param int    $status HTTP status.
	 */
	private static function page( string $body, int $status = 200 ): void {
		status_header( $status );
		header( 'Content-Type: text/html; charset=utf-8' );
		echo '<!DOCTYPE html><html ' . get_language_attributes() . '><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
			. '<meta name="robots" content="noindex"><title>' . esc_html__( 'Sign in an app', 'scripthammer' ) . ' – ' . esc_html( get_bloginfo( 'name' ) ) . '</title></head>'
			. '<body><main style="max-width:32rem;margin:3rem auto;font-family:sans-serif"><h1>' . esc_html__( 'Sign in an app', 'scripthammer' ) . '</h1>'
			. $body // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- escaped where it was built.
			. '</main></body></html>';
	}
}
