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
	public const LISTENER_TOKEN_PREFIX      = 'shmls.';
	public const LISTENER_TOKEN_MAX_SECONDS = 3600;
	public const STUDIO_TOKEN_PREFIX        = 'shmst.';
	public const STUDIO_TOKEN_MAX_SECONDS   = 3600;
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
	 * A short-lived token that names the signed-in WordPress user as the listener (companion/access/tokens.py).
	 *
	 * Format: shmls.<base64url(JSON {"u","exp","n","nm","iat"})>.<hex HMAC-SHA256 of "shmls." + the base64url part>;
	 * the prefix is inside the MAC, so no other token kind can pass for a listener token.
	 *
	 * @param int         $user_id WordPress user id (> 0).
	 * @param string      $name    Display name (cut to 60 characters).
	 * @param int         $ttl     Seconds (capped at an hour).
	 * @param int|null    $now     Current time.
	 * @param string|null $nonce   Nonce (default: a fresh one).
	 */
	public function listener_token( int $user_id, string $name = '', int $ttl = 1800, ?int $now = null, ?string $nonce = null ): string {
		if ( $user_id <= 0 ) {
			throw new \InvalidArgumentException( 'A listener token names a WordPress user.' );
		}
		$now     = $now ?? time();
		$payload = self::compact_json(
			array(
				'u'   => $user_id,
				'exp' => $now + min( max( 1, $ttl ), self::LISTENER_TOKEN_MAX_SECONDS ),
				'n'   => $nonce ?? self::new_nonce(),
				'nm'  => function_exists( 'mb_substr' ) ? mb_substr( $name, 0, 60 ) : substr( $name, 0, 60 ),
				'iat' => $now,
			)
		);
		$body    = rtrim( strtr( base64_encode( $payload ), '+/', '-_' ), '=' );
		return self::LISTENER_TOKEN_PREFIX . $body . '.' . hash_hmac( 'sha256', self::LISTENER_TOKEN_PREFIX . $body, $this->secret );
	}

	/**
	 * A short-lived token that signs a band member in to the companion's studio (companion/band/signing.py).
	 *
	 * Format: shmst.<base64url(JSON {"m","exp","n","u"})>.<hex HMAC-SHA256 of "shmst." + the base64url part>;
	 * "m" is the band member id the site owner mapped the WordPress user to, "u" the login (for the log).
	 *
	 * @param string      $member Band member id.
	 * @param int         $ttl    Seconds (capped at an hour).
	 * @param string      $user   WordPress login.
	 * @param int|null    $now    Current time.
	 * @param string|null $nonce  Nonce (default: a fresh one).
	 */
	public function studio_token( string $member, int $ttl = 900, string $user = '', ?int $now = null, ?string $nonce = null ): string {
		if ( ! preg_match( '/^[a-z0-9][a-z0-9_-]{0,63}$/', $member ) ) {
			throw new \InvalidArgumentException( 'A studio token names a band member.' );
		}
		$now     = $now ?? time();
		$payload = self::compact_json(
			array(
				'm'   => $member,
				'exp' => $now + min( max( 1, $ttl ), self::STUDIO_TOKEN_MAX_SECONDS ),
				'n'   => $nonce ?? self::new_nonce(),
				'u'   => substr( $user, 0, 60 ),
			)
		);
		$body    = rtrim( strtr( base64_encode( $payload ), '+/', '-_' ), '=' );
		return self::STUDIO_TOKEN_PREFIX . $body . '.' . hash_hmac( 'sha256', self::STUDIO_TOKEN_PREFIX . $body, $this->secret );
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
