<?php
use PHPUnit\Framework\TestCase;
use ScriptHammer\Signer;

final class SignerTest extends TestCase {
	private const PATH = '/?rest_route=/scripthammer/v1/tracks/7/sync';

	public function test_signature_matches_the_companion(): void {
		// The same vector as companion/band/signing.py: sign('s3cret', 'POST', PATH, b'{"a":1}', ...).
		$headers = ( new Signer( 's3cret' ) )->sign( 'POST', self::PATH, '{"a":1}', 1700000000, 'abcdefghijklmnop1234' );
		$this->assertSame( '759273dc96f336158c8db9e455f26f1daae49af34042369b84c3b882ce199254', $headers['X-ScriptHammer-Signature'] );
		$this->assertSame( '1700000000', $headers['X-ScriptHammer-Timestamp'] );
	}

	public function test_string_to_sign(): void {
		$this->assertSame( "GET\n/x?y=1\n1\nn\n" . hash( 'sha256', '' ), Signer::string_to_sign( 'get', '/x?y=1', '1', 'n', '' ) );
	}

	public function test_verify_accepts_once_then_refuses_replay(): void {
		$seen     = array();
		$remember = function ( string $nonce, int $ttl ) use ( &$seen ): bool {
			$this->assertSame( 600, $ttl );
			if ( isset( $seen[ $nonce ] ) ) {
				return false;
			}
			$seen[ $nonce ] = true;
			return true;
		};
		$signer  = new Signer( 'k' );
		$headers = $signer->sign( 'POST', self::PATH, 'body' );
		$this->assertNull( $signer->verify( 'POST', self::PATH, 'body', $headers, $remember ) );
		$this->assertSame( 'signature_replayed', $signer->verify( 'POST', self::PATH, 'body', $headers, $remember ) );
	}

	public function test_verify_refusals(): void {
		$ok     = static fn() => true;
		$signer = new Signer( 'k' );
		$h      = $signer->sign( 'POST', self::PATH, 'body', 1000 );
		$this->assertSame( 'signature_expired', $signer->verify( 'POST', self::PATH, 'body', $h, $ok, 1000 + 301 ) );
		$this->assertNull( $signer->verify( 'POST', self::PATH, 'body', $h, $ok, 1000 + 299 ) );
		$this->assertSame( 'signature_invalid', $signer->verify( 'POST', self::PATH, 'other body', $h, $ok, 1000 ) );
		$this->assertSame( 'signature_invalid', $signer->verify( 'GET', self::PATH, 'body', $h, $ok, 1000 ) );
		$this->assertSame( 'signature_invalid', $signer->verify( 'POST', '/elsewhere', 'body', $h, $ok, 1000 ) );
		$this->assertSame( 'signature_invalid', ( new Signer( 'other' ) )->verify( 'POST', self::PATH, 'body', $h, $ok, 1000 ) );
		$this->assertSame( 'signature_missing', $signer->verify( 'POST', self::PATH, 'body', array(), $ok ) );
		$bad = array_merge( $h, array( 'X-ScriptHammer-Nonce' => 'short' ) );
		$this->assertSame( 'signature_malformed', $signer->verify( 'POST', self::PATH, 'body', $bad, $ok, 1000 ) );
		$lower = array_change_key_case( $h, CASE_LOWER );
		$this->assertNull( $signer->verify( 'POST', self::PATH, 'body', $lower, $ok, 1000 ) );
		$this->assertSame( 'signing_disabled', ( new Signer( '' ) )->verify( 'POST', self::PATH, 'body', $h, $ok, 1000 ) );
	}

	public function test_upload_token_round_trip_and_limits(): void {
		$signer = new Signer( 'k' );
		$token  = $signer->upload_token( 42, 3600, 'ivory', 1000 );
		$this->assertStringStartsWith( 'shmup.', $token );
		$this->assertMatchesRegularExpression( '/^shmup\.[A-Za-z0-9_-]+\.[0-9a-f]{64}$/', $token );
		$claims = $signer->read_upload_token( $token, 1000 );
		$this->assertSame( 42, $claims['t'] );
		$this->assertSame( 1000 + 900, $claims['exp'] ); // capped at 15 minutes
		$this->assertSame( 'ivory', $claims['u'] );
		$this->assertNull( $signer->read_upload_token( $token, 1000 + 901 ) );
		$this->assertNull( ( new Signer( 'other' ) )->read_upload_token( $token, 1000 ) );
		$this->assertNull( $signer->read_upload_token( $token . '0', 1000 ) );
	}

	/** The same vector as tests/wordpress/test_listener_token.py: Python's read_listener_token accepts it. */
	public const LISTENER_VECTOR = 'shmls.eyJ1Ijo0MiwiZXhwIjoxNzAwMDAxODAwLCJuIjoiYWJjZGVmZ2hpamtsbW5vcDEyMzQiLCJubSI6IkZhbiDDnG7Dr2NvZGUgLyBcInF1b3RlZFwiIiwiaWF0IjoxNzAwMDAwMDAwfQ.42558191d274754d4b5e8a40cefb8313ef666329059b18d1461171cfd377c896';

	public function test_listener_token_matches_the_shared_vector(): void {
		$token = ( new Signer( 's3cret' ) )->listener_token( 42, 'Fan Ünïcode / "quoted"', 1800, 1700000000, 'abcdefghijklmnop1234' );
		$this->assertSame( self::LISTENER_VECTOR, $token );
	}

	public function test_listener_token_shape_limits_and_mac(): void {
		$signer = new Signer( 'k' );
		$token  = $signer->listener_token( 7, str_repeat( 'é', 80 ), 99999, 1000 );
		$this->assertMatchesRegularExpression( '/^shmls\.[A-Za-z0-9_-]+\.[0-9a-f]{64}$/', $token );
		[ , $body, $mac ] = explode( '.', $token );
		$claims = json_decode( base64_decode( strtr( $body, '-_', '+/' ) ), true );
		$this->assertSame( 7, $claims['u'] );
		$this->assertSame( 1000 + 3600, $claims['exp'] ); // capped at an hour
		$this->assertSame( 60, mb_strlen( $claims['nm'] ) );
		$this->assertSame( 1000, $claims['iat'] ); // when it was minted: an erasure revokes older tokens
		$this->assertMatchesRegularExpression( '/^[A-Za-z0-9_-]{16,64}$/', $claims['n'] );
		// The prefix is inside the MAC: the upload token's MAC (body only) is not the listener token's.
		$this->assertSame( hash_hmac( 'sha256', 'shmls.' . $body, 'k' ), $mac );
		$this->assertNotSame( hash_hmac( 'sha256', $body, 'k' ), $mac );
		$this->assertNotSame( $token, $signer->listener_token( 7, str_repeat( 'é', 80 ), 99999, 1000 ) ); // fresh nonce
		$this->expectException( \InvalidArgumentException::class );
		$signer->listener_token( 0 );
	}
}
