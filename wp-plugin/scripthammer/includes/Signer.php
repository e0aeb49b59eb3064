<?php
/**
 * HMAC-SHA256 request signing, the same scheme as the companion's companion/band/signing.py.
 *
 * String to sign: "METHOD\nPATH\nTIMESTAMP\nNONCE\nsha256hex(body)", PATH being the request path
 * with its query string. Headers: X-ScriptHammer-Timestamp (Unix seconds), X-ScriptHammer-Nonce
 * (16-64 URL-safe characters, used once) and X-ScriptHammer-Signature (lowercase hex).
 * Five-minute window. Pure PHP: no WordPress function is needed here.
 *
 * @package ScriptHammer
 */

namespace ScriptHammer;

defined( 'ABSPATH' ) || exit;

/**
 * Signs outgoing requests, verifies incoming ones and mints upload tokens.
 */
final class Signer {

	public const WINDOW_SECONDS             = 300;
	public const HEADER_TIMESTAMP           = 'X-ScriptHammer-Timestamp';
	public const HEADER_NONCE               = 'X-ScriptHammer-Nonce';
	public const HEADER_SIGNATURE           = 'X-ScriptHammer-Signature';
	public const UPLOAD_TOKEN_PREFIX        = 'shmup.';
	public const UPLOAD_TOKEN_MAX_SECONDS   = 900;
	private const NONCE_PATTERN             = '/^[A-Za-z0-9_\-]{16,64}$/';

	/**
	 * The shared secret.
	 *
	 * @var string
	 */
	private string $secret;

	/**
	 * A signer for one shared secret.
	 *
	 * @param string $secret The secret WordPress and the companion share.
	 */
	public function __construct( string $secret ) {
		$this->secret = $secret;
	}

	/**
	 * The string the HMAC is taken over.
	 *
	 * @param string $method    HTTP method.
	 * @param string $path      Path with query string.
	 * @param string $timestamp Unix seconds.
	 * @param string $nonce     The nonce.
	 * @param string $body      The raw body.
	 */
	public static function string_to_sign( string $method, string $path, string $timestamp, string $nonce, string $body ): string {
		return implode( "\n", array( strtoupper( $method ), $path, $timestamp, $nonce, hash( 'sha256', $body ) ) );
	}

	/**
	 * A fresh URL-safe nonce.
	 */
	public static function new_nonce(): string {
		return rtrim( strtr( base64_encode( random_bytes( 18 ) ), '+/', '-_' ), '=' );
	}

	/**
	 * The headers that sign one request.
	 *
	 * @param string      $method    HTTP method.
	 * @param string      $path      Path with query string, exactly as sent.
	 * @param string      $body      Raw body.
	 * @param int|null    $timestamp Unix seconds (default: now).
	 * @param string|null $nonce     Nonce (default: a fresh one).
	 * @return array<string,string>
	 */
	public function sign( string $method, string $path, string $body = '', ?int $timestamp = null, ?string $nonce = null ): array {
		$ts    = (string) ( $timestamp ?? time() );
		$nonce = $nonce ?? self::new_nonce();
		return array(
			self::HEADER_TIMESTAMP => $ts,
			self::HEADER_NONCE     => $nonce,
			self::HEADER_SIGNATURE => hash_hmac( 'sha256', self::string_to_sign( $method, $path, $ts, $nonce, $body ), $this->secret ),
		);
	}

	/**
	 * Check one signed request. Returns null when valid, else an error code.
	 *
	 * @param string                $method   HTTP method.
	 * @param string                $path     Path with query string, as received.
	 * @param string                $body     Raw body.
	 * @param array<string,string>  $headers  Header name (any case) => value.
	 * @param callable              $remember fn(string $nonce, int $ttl): bool, false when already seen.
	 * @param int|null              $now      Current time.
	 * @return string|null Error code (signature_missing, signature_malformed, signature_expired,
	 *                     signature_invalid, signature_replayed, signing_disabled) or null.
	 */
	public function verify( string $method, string $path, string $body, array $headers, callable $remember, ?int $now = null ): ?string {
		if ( '' === $this->secret ) {
			return 'signing_disabled';
		}
		$headers = array_change_key_case( $headers, CASE_LOWER );
		$ts      = (string) ( $headers[ strtolower( self::HEADER_TIMESTAMP ) ] ?? '' );
		$nonce   = (string) ( $headers[ strtolower( self::HEADER_NONCE ) ] ?? '' );
		$given   = (string) ( $headers[ strtolower( self::HEADER_SIGNATURE ) ] ?? '' );
		if ( '' === $ts || '' === $nonce || '' === $given ) {
			return 'signature_missing';
		}
		if ( ! ctype_digit( $ts ) || ! preg_match( self::NONCE_PATTERN, $nonce ) ) {
			return 'signature_malformed';
		}
		$now = $now ?? time();
		if ( abs( $now - (int) $ts ) > self::WINDOW_SECONDS ) {
			return 'signature_expired';
		}
		$expected = hash_hmac( 'sha256', self::string_to_sign( $method, $path, $ts, $nonce, $body ), $this->secret );
		if ( ! hash_equals( $expected, strtolower( $given ) ) ) {
			return 'signature_invalid';
		}
		if ( ! $remember( $nonce, 2 * self::WINDOW_SECONDS ) ) {
			return 'signature_replayed';
		}
		return null;
	}

	/**
	 * A short-lived token that lets a browser upload one recording to one companion track.
	 *
	 * Format: shmup.<base64url(JSON {"t","exp","n","u"})>.<hex HMAC-SHA256 of the base64url part>.
	 *
	 * @param int      $track_id Companion track id.
	 * @param int      $ttl      Seconds (capped at 15 minutes).
	 * @param string   $user     Who asked (a login name, for the companion's job log).
	 * @param int|null $now      Current time.
	 */
	public function upload_token( int $track_id, int $ttl = 600, string $user = '', ?int $now = null ): string {
		$now     = $now ?? time();
		$payload = self::compact_json(
			array(
				't'   => $track_id,
				'exp' => $now + min( max( 1, $ttl ), self::UPLOAD_TOKEN_MAX_SECONDS ),
				'n'   => self::new_nonce(),
				'u'   => substr( $user, 0, 60 ),
			)
		);
		$body    = rtrim( strtr( base64_encode( $payload ), '+/', '-_' ), '=' );
		return self::UPLOAD_TOKEN_PREFIX . $body . '.' . hash_hmac( 'sha256', $body, $this->secret );
	}

	/**
	 * Compact JSON like Python's json.dumps(separators=(",", ":")).
	 *
	 * @param array<string,mixed> $data The data.
	 */
	private static function compact_json( array $data ): string {
		return (string) json_encode( $data, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE );
	}

	/**
	 * The claims of an upload token minted with this secret, or null (forged, malformed, expired).
	 *
	 * @param string   $token The token.
	 * @param int|null $now   Current time.
	 * @return array{t:int,exp:int,u:string}|null
	 */
	public function read_upload_token( string $token, ?int $now = null ): ?array {
		$parts = explode( '.', $token, 3 );
		if ( 3 !== count( $parts ) || 'shmup' !== $parts[0] ) {
			return null;
		}
		if ( ! hash_equals( hash_hmac( 'sha256', $parts[1], $this->secret ), strtolower( $parts[2] ) ) ) {
			return null;
		}
		$claims = json_decode( (string) base64_decode( strtr( $parts[1], '-_', '+/' ) ), true );
		if ( ! is_array( $claims ) || ! isset( $claims['t'], $claims['exp'] ) ) {
			return null;
		}
		if ( (int) $claims['exp'] < ( $now ?? time() ) ) {
			return null;
		}
		return array(
			't'   => (int) $claims['t'],
			'exp' => (int) $claims['exp'],
			'u'   => (string) ( $claims['u'] ?? '' ),
		);
	}
}
