<?php
/**
 * The companion's HTTP API, called with signed requests (the service identity).
 *
 * @package ScriptHammer
 */

namespace ScriptHammer;

defined( 'ABSPATH' ) || exit;

use WP_Error;

/**
 * A small client for the companion: health, tracks, jobs. Errors come back as WP_Error with a
 * message an editor understands.
 */
final class Companion {

	/**
	 * Base URL (no trailing slash).
	 *
	 * @var string
	 */
	private string $base;

	/**
	 * The signer.
	 *
	 * @var Signer
	 */
	private Signer $signer;

	/**
	 * A client for one companion.
	 *
	 * @param string $base   The companion's URL.
	 * @param string $secret The shared secret.
	 */
	public function __construct( string $base, string $secret ) {
		$this->base   = untrailingslashit( $base );
		$this->signer = new Signer( $secret );
	}

	/**
	 * The client the settings describe.
	 */
	public static function from_settings(): self {
		return new self( Settings::companion_url(), (string) Settings::get( 'shared_secret' ) );
	}

	/**
	 * The companion's health (also when it answers 503: the body says what is down).
	 *
	 * @return array<string,mixed>|WP_Error
	 */
	public function health() {
		return $this->request( 'GET', '/api/health', null, array( 200, 503 ) );
	}

	/**
	 * A signed ping (GET /api/wordpress/hello): the companion checks this site's signature, so a wrong
	 * shared secret shows here (health itself is public and proves nothing about the secret).
	 *
	 * @return array<string,mixed>|WP_Error {ok, signature: "valid", version}
	 */
	public function hello() {
		return $this->request( 'GET', '/api/wordpress/hello' );
	}

	/**
	 * Create a track.
	 *
	 * @param array<string,mixed> $fields title, album_id, track_number, release_state...
	 * @return array<string,mixed>|WP_Error
	 */
	public function create_track( array $fields ) {
		return $this->request( 'POST', '/api/tracks', $fields, array( 201 ) );
	}

	/**
	 * One track as the band sees it (drafts too).
	 *
	 * @param int $id Companion track id.
	 * @return array<string,mixed>|WP_Error
	 */
	public function track( int $id ) {
		return $this->request( 'GET', '/api/tracks/' . $id );
	}

	/**
	 * One job's state and progress.
	 *
	 * @param string $id Job id.
	 * @return array<string,mixed>|WP_Error
	 */
	public function job( string $id ) {
		return $this->request( 'GET', '/api/jobs/' . rawurlencode( $id ) );
	}

	/**
	 * Ask the companion to publish (or unpublish) a track or album on this site: it queues a job.
	 *
	 * @param string $kind   track or album.
	 * @param int    $id     Companion id.
	 * @param string $action publish or unpublish.
	 * @return array<string,mixed>|WP_Error {job_id, job_url, publication}
	 */
	public function publish( string $kind, int $id, string $action = 'publish' ) {
		$kind   = 'album' === $kind ? 'albums' : 'tracks';
		$action = 'unpublish' === $action ? 'unpublish' : 'publish';
		return $this->request( 'POST', '/api/' . $kind . '/' . $id . '/' . $action, null, array( 202 ) );
	}

	/**
	 * Where a track or album stands on this site, as the companion records it.
	 *
	 * @param string $kind track or album.
	 * @param int    $id   Companion id.
	 * @return array<string,mixed>|WP_Error {state, wp_post_id, wp_status, wp_link, error, attempts, ...}
	 */
	public function publication( string $kind, int $id ) {
		return $this->request( 'GET', '/api/' . ( 'album' === $kind ? 'albums' : 'tracks' ) . '/' . $id . '/publication' );
	}

	/**
	 * A JSON document from the companion's media (e.g. waveform peaks), unsigned.
	 *
	 * @param string $url Absolute URL on the companion.
	 * @return array<string,mixed>|WP_Error
	 */
	public function media_json( string $url ) {
		if ( 0 !== strpos( $url, Settings::companion_public_url() . '/' ) && 0 !== strpos( $url, $this->base . '/' ) ) {
			return new WP_Error( 'scripthammer_foreign_url', __( 'That file is not on the companion.', 'scripthammer' ) );
		}
		$path     = substr( $url, strpos( $url, '/media/' ) );
		$prefix   = (string) wp_parse_url( $this->base, PHP_URL_PATH );
		$response = wp_remote_get(
			$this->base . $path,
			array(
				'timeout' => 15,
				// Signed as this site: a draft's peaks are not public (the companion serves them to the band).
				'headers' => $this->signer->sign( 'GET', $prefix . $path ),
			)
		);
		if ( is_wp_error( $response ) ) {
			return self::unreachable( $response );
		}
		$data = json_decode( (string) wp_remote_retrieve_body( $response ), true );
		return is_array( $data ) ? $data : new WP_Error( 'scripthammer_bad_json', __( 'The companion sent something that is not JSON.', 'scripthammer' ) );
	}

	/**
	 * A signed GET of a report that is not JSON (an SVG chart, a CSV export): its body, or a WP_Error.
	 * The body is returned only when the companion answered 200 with the expected type.
	 *
	 * @param string $path Path with query, starting with /api/.
	 * @param string $type The media type expected (image/svg+xml, text/csv).
	 * @return string|WP_Error
	 */
	public function fetch_text( string $path, string $type ) {
		if ( '' === $this->base ) {
			return new WP_Error( 'scripthammer_not_configured', __( 'The companion URL is not set: open Settings → ScriptHammer.', 'scripthammer' ) );
		}
		$prefix   = (string) wp_parse_url( $this->base, PHP_URL_PATH );
		$headers  = $this->signer->sign( 'GET', $prefix . $path );
		$headers['Accept'] = $type;
		$response = wp_remote_get(
			$this->base . $path,
			array(
				'headers'     => $headers,
				'timeout'     => 30,
				'redirection' => 0,
			)
		);
		if ( is_wp_error( $response ) ) {
			return self::unreachable( $response );
		}
		$status = (int) wp_remote_retrieve_response_code( $response );
		$body   = (string) wp_remote_retrieve_body( $response );
		$got    = strtolower( (string) wp_remote_retrieve_header( $response, 'content-type' ) );
		if ( 200 === $status && 0 === strpos( $got, $type ) ) {
			return $body;
		}
		$data = json_decode( $body, true );
		return self::explain( 200 === $status ? 502 : $status, is_array( $data ) ? $data : array() );
	}

	/**
	 * A signed request; the decoded JSON body, or a WP_Error in words.
	 *
	 * @param string                   $method  HTTP method.
	 * @param string                   $path    Path with query, starting with /api/.
	 * @param array<string,mixed>|null $json    Body to send as JSON.
	 * @param int[]                    $expect  Status codes that count as success.
	 * @return array<string,mixed>|WP_Error
	 */
	public function request( string $method, string $path, ?array $json = null, array $expect = array( 200 ) ) {
		if ( '' === $this->base ) {
			return new WP_Error( 'scripthammer_not_configured', __( 'The companion URL is not set: open Settings → ScriptHammer.', 'scripthammer' ) );
		}
		$body    = null === $json ? '' : (string) wp_json_encode( $json );
		$prefix  = (string) wp_parse_url( $this->base, PHP_URL_PATH );
		$headers = $this->signer->sign( $method, $prefix . $path, $body );
		if ( null !== $json ) {
			$headers['Content-Type'] = 'application/json';
		}
		$headers['Accept'] = 'application/json';
		$response          = wp_remote_request(
			$this->base . $path,
			array(
				'method'      => $method,
				'headers'     => $headers,
				'body'        => null === $json ? null : $body,
				'timeout'     => 20,
				'redirection' => 0,
			)
		);
		if ( is_wp_error( $response ) ) {
			return self::unreachable( $response );
		}
		$status = (int) wp_remote_retrieve_response_code( $response );
		$data   = json_decode( (string) wp_remote_retrieve_body( $response ), true );
		if ( in_array( $status, $expect, true ) ) {
			return is_array( $data ) ? $data : array();
		}
		return self::explain( $status, is_array( $data ) ? $data : array() );
	}

	/**
	 * The companion could not be reached.
	 *
	 * @param WP_Error $error The transport error.
	 */
	private static function unreachable( WP_Error $error ): WP_Error {
		return new WP_Error(
			'scripthammer_unreachable',
			sprintf(
				/* translators: %s: technical reason */
				__( 'The companion service cannot be reached. Check that it is running and that its URL in Settings → ScriptHammer is right. (%s)', 'scripthammer' ),
				$error->get_error_message()
			)
		);
	}

	/**
	 * A companion error in an editor's words.
	 *
	 * @param int                 $status HTTP status.
	 * @param array<string,mixed> $data   The companion's error body {status, code, message, details}.
	 */
	public static function explain( int $status, array $data ): WP_Error {
		$code    = (string) ( $data['code'] ?? 'http_' . $status );
		$message = (string) ( $data['message'] ?? '' );
		switch ( true ) {
			case 401 === $status && str_starts_with( $code, 'signature' ):
			case 'signing_disabled' === $code:
				$text = __( 'The companion refused this site\'s signature: the shared secret here and on the companion must be the same.', 'scripthammer' );
				break;
			case 401 === $status:
				$text = __( 'The companion did not accept this site\'s credentials.', 'scripthammer' );
				break;
			case 403 === $status:
				$text = __( 'The companion says this site may not do that.', 'scripthammer' );
				break;
			case 404 === $status:
				$text = __( 'The companion does not know this track any more.', 'scripthammer' );
				break;
			case 413 === $status:
				$text = __( 'The file is too large for the companion.', 'scripthammer' );
				break;
			case 415 === $status:
			case 422 === $status:
				$text = __( 'The companion could not use this file as a recording.', 'scripthammer' );
				break;
			case $status >= 500:
				$text = __( 'The companion had a problem; try again in a minute.', 'scripthammer' );
				break;
			default:
				$text = __( 'The companion refused the request.', 'scripthammer' );
		}
		if ( '' !== $message ) {
			$text .= ' ' . $message;
		}
		return new WP_Error( 'scripthammer_' . $code, $text, array( 'status' => $status ) );
	}

	/**
	 * Mint an upload token for the browser.
	 *
	 * @param int    $track_id Companion track id.
	 * @param string $user     Who uploads.
	 */
	public function upload_token( int $track_id, string $user ): string {
		return $this->signer->upload_token( $track_id, 600, $user );
	}
}
