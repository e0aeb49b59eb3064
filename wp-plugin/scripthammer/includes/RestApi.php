<?php
/**
 * The scripthammer/v1 REST namespace.
 *
 * Two kinds of routes:
 * - signed routes the companion calls (HMAC-SHA256, five-minute window, nonces used once): a bad,
 *   missing, stale or replayed signature gets 401 and changes nothing;
 * - editor routes wp-admin's track editor calls (cookie + REST nonce, capability checks): they mint
 *   upload tokens and relay the companion's job and track state, signed, to the browser.
 *
 * @package ScriptHammer
 */

namespace ScriptHammer;

defined( 'ABSPATH' ) || exit;

use WP_Error;
use WP_REST_Request;
use WP_REST_Response;
use WP_REST_Server;

/**
 * Routes of scripthammer/v1.
 */
final class RestApi {

	public const NAMESPACE = 'scripthammer/v1';

	/**
	 * Register every route (on rest_api_init).
	 */
	public function register_routes(): void {
		$signed = array( $this, 'check_signature' );
		register_rest_route(
			self::NAMESPACE,
			'/ping',
			array(
				'methods'             => WP_REST_Server::READABLE,
				'callback'            => array( $this, 'ping' ),
				'permission_callback' => $signed,
			)
		);
		register_rest_route(
			self::NAMESPACE,
			'/tracks/(?P<companion_id>\d+)/sync',
			array(
				'methods'             => WP_REST_Server::CREATABLE,
				'callback'            => array( $this, 'sync_track' ),
				'permission_callback' => $signed,
				'args'                => array( 'companion_id' => array( 'sanitize_callback' => 'absint' ) ),
			)
		);
		register_rest_route(
			self::NAMESPACE,
			'/products',
			array(
				'methods'             => WP_REST_Server::CREATABLE,
				'callback'            => array( $this, 'ensure_product' ),
				'permission_callback' => $signed,
			)
		);
		register_rest_route(
			self::NAMESPACE,
			'/band',
			array(
				'methods'             => WP_REST_Server::CREATABLE,
				'callback'            => array( $this, 'sync_band' ),
				'permission_callback' => $signed,
			)
		);
		register_rest_route(
			self::NAMESPACE,
			'/editor/tracks/(?P<post>\d+)/upload',
			array(
				'methods'             => WP_REST_Server::CREATABLE,
				'callback'            => array( $this, 'editor_upload' ),
				'permission_callback' => array( $this, 'can_upload_to_post' ),
				'args'                => array( 'post' => array( 'sanitize_callback' => 'absint' ) ),
			)
		);
		register_rest_route(
			self::NAMESPACE,
			'/editor/tracks/(?P<post>\d+)',
			array(
				'methods'             => WP_REST_Server::READABLE,
				'callback'            => array( $this, 'editor_track' ),
				'permission_callback' => array( $this, 'can_edit_post' ),
				'args'                => array( 'post' => array( 'sanitize_callback' => 'absint' ) ),
			)
		);
		register_rest_route(
			self::NAMESPACE,
			'/editor/tracks/(?P<post>\d+)/publication',
			array(
				array(
					'methods'             => WP_REST_Server::READABLE,
					'callback'            => array( $this, 'editor_publication' ),
					'permission_callback' => array( $this, 'can_edit_post' ),
				),
				array(
					'methods'             => WP_REST_Server::CREATABLE,
					'callback'            => array( $this, 'editor_publish' ),
					'permission_callback' => array( $this, 'can_publish_post' ),
					'args'                => array(
						'action' => array(
							'type'    => 'string',
							'enum'    => array( 'publish', 'unpublish' ),
							'default' => 'publish',
						),
					),
				),
				'args' => array( 'post' => array( 'sanitize_callback' => 'absint' ) ),
			)
		);
		register_rest_route(
			self::NAMESPACE,
			'/editor/jobs/(?P<job>[A-Za-z0-9_-]{1,64})',
			array(
				'methods'             => WP_REST_Server::READABLE,
				'callback'            => array( $this, 'editor_job' ),
				'permission_callback' => static fn() => current_user_can( Roles::CAP_UPLOAD ) || current_user_can( Roles::CAP_PUBLISH ),
			)
		);
	}

	/**
	 * The path (with query) the client signed: the request URI as received.
	 *
	 * @param WP_REST_Request $request The request.
	 */
	public static function signed_path( WP_REST_Request $request ): string {
		if ( isset( $_SERVER['REQUEST_URI'] ) ) {
			return wp_unslash( $_SERVER['REQUEST_URI'] ); // phpcs:ignore WordPress.Security.ValidatedSanitizedInput -- compared byte for byte under an HMAC, never output.
		}
		return '/' . rest_get_url_prefix() . $request->get_route();
	}

	/**
	 * Permission callback of the signed routes.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return true|WP_Error
	 */
	public function check_signature( WP_REST_Request $request ) {
		$headers = array();
		foreach ( array( Signer::HEADER_TIMESTAMP, Signer::HEADER_NONCE, Signer::HEADER_SIGNATURE ) as $name ) {
			$headers[ $name ] = (string) $request->get_header( $name );
		}
		$signer = new Signer( (string) Settings::get( 'shared_secret' ) );
		$error  = $signer->verify(
			$request->get_method(),
			self::signed_path( $request ),
			$request->get_body(),
			$headers,
			array( NonceStore::class, 'remember' )
		);
		if ( null === $error ) {
			return true;
		}
		$messages = array(
			'signing_disabled'    => __( 'This site has no shared secret configured.', 'scripthammer' ),
			'signature_missing'   => __( 'The request is not signed.', 'scripthammer' ),
			'signature_malformed' => __( 'The signature headers are malformed.', 'scripthammer' ),
			'signature_expired'   => __( 'The signature is outside the five-minute window.', 'scripthammer' ),
			'signature_invalid'   => __( 'The signature does not match.', 'scripthammer' ),
			'signature_replayed'  => __( 'This signed request was already used.', 'scripthammer' ),
		);
		return new WP_Error( $error, $messages[ $error ] ?? $error, array( 'status' => 401 ) );
	}

	/**
	 * GET /ping: the companion checks that it reaches this site and that the secrets match.
	 */
	public function ping(): WP_REST_Response {
		return new WP_REST_Response(
			array(
				'ok'      => true,
				'site'    => home_url( '/' ),
				'plugin'  => SCRIPTHAMMER_VERSION,
				'woo'     => Commerce::woocommerce_active(),
				'subscriptions' => Commerce::subscriptions_active(),
				'bp'      => BuddyPress::active(),
			)
		);
	}

	/**
	 * POST /tracks/<companion_id>/sync: the companion sends a track's state (renditions, HLS, peaks).
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response|WP_Error
	 */
	public function sync_track( WP_REST_Request $request ) {
		$companion_id = (int) $request['companion_id'];
		$track        = $request->get_json_params();
		if ( ! is_array( $track ) ) {
			return new WP_Error( 'scripthammer_bad_body', __( 'Send the track as JSON.', 'scripthammer' ), array( 'status' => 400 ) );
		}
		$post_id = PostTypes::find_by_companion_id( PostTypes::TRACK, $companion_id );
		if ( ! $post_id ) {
			return new WP_Error( 'scripthammer_unknown_track', __( 'No track post has this companion id.', 'scripthammer' ), array( 'status' => 404 ) );
		}
		$track['id'] = $companion_id;
		PostTypes::apply_companion_track( $post_id, $track );
		return new WP_REST_Response(
			array(
				'post_id'      => $post_id,
				'companion_id' => $companion_id,
			)
		);
	}

	/**
	 * POST /products {kind, id, title, post_id, min_price}: the companion publishes a track or album; its WooCommerce
	 * product is made once (name-your-price above a minimum) and updated after that.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response|WP_Error
	 */
	public function ensure_product( WP_REST_Request $request ) {
		$body = $request->get_json_params();
		$body = is_array( $body ) ? $body : array();
		$done = ReleaseProducts::ensure(
			sanitize_key( (string) ( $body['kind'] ?? '' ) ),
			absint( $body['id'] ?? 0 ),
			sanitize_text_field( (string) ( $body['title'] ?? '' ) ),
			absint( $body['post_id'] ?? 0 ),
			$body['min_price'] ?? null
		);
		if ( is_wp_error( $done ) ) {
			return $done;
		}
		return new WP_REST_Response( $done, $done['created'] ? 201 : 200 );
	}

	/**
	 * POST /band: the companion sends the band roster (members and roles from its band file). Roles go
	 * to the accounts the site owner mapped to members (Settings → ScriptHammer → Band accounts), never
	 * to a user whose login happens to equal a member id.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response|WP_Error
	 */
	public function sync_band( WP_REST_Request $request ) {
		$body    = $request->get_json_params();
		$members = is_array( $body ) ? (array) ( $body['members'] ?? array() ) : array();
		$clean   = array();
		foreach ( $members as $m ) {
			if ( ! is_array( $m ) || empty( $m['id'] ) ) {
				continue;
			}
			$role    = sanitize_key( (string) ( $m['role'] ?? 'member' ) );
			$clean[] = array(
				'id'   => sanitize_key( (string) $m['id'] ),
				'name' => sanitize_text_field( (string) ( $m['name'] ?? $m['id'] ) ),
				'role' => in_array( $role, array( 'leader', 'member', 'guest' ), true ) ? $role : 'member',
			);
		}
		if ( ! $clean ) {
			return new WP_Error( 'scripthammer_bad_body', __( 'Send {"members": [{"id", "name", "role"}]}.', 'scripthammer' ), array( 'status' => 400 ) );
		}
		update_option( Roles::BAND_OPTION, $clean, false );
		$assigned = Roles::apply_band( $clean );
		return new WP_REST_Response(
			array(
				'members'  => count( $clean ),
				'assigned' => $assigned,
			)
		);
	}

	/**
	 * Permission: may the current user upload to this track post?
	 *
	 * @param WP_REST_Request $request The request.
	 */
	public function can_upload_to_post( WP_REST_Request $request ): bool {
		return $this->can_edit_post( $request ) && current_user_can( Roles::CAP_UPLOAD );
	}

	/**
	 * Permission: may the current user publish this track post on the site (through the companion)?
	 *
	 * @param WP_REST_Request $request The request.
	 */
	public function can_publish_post( WP_REST_Request $request ): bool {
		return $this->can_edit_post( $request ) && current_user_can( Roles::CAP_PUBLISH ) && current_user_can( 'publish_post', (int) $request['post'] );
	}

	/**
	 * Permission: may the current user edit this track post?
	 *
	 * @param WP_REST_Request $request The request.
	 */
	public function can_edit_post( WP_REST_Request $request ): bool {
		$post = get_post( (int) $request['post'] );
		return $post && PostTypes::TRACK === $post->post_type && current_user_can( 'edit_post', $post->ID );
	}

	/**
	 * POST /editor/tracks/<post>/upload: make sure the track exists on the companion, then mint a
	 * short-lived upload token the browser sends the file with (straight to the companion).
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response|WP_Error
	 */
	public function editor_upload( WP_REST_Request $request ) {
		$post_id      = (int) $request['post'];
		$companion    = Companion::from_settings();
		$companion_id = (int) get_post_meta( $post_id, PostTypes::META_COMPANION_ID, true );
		if ( '' === (string) Settings::get( 'shared_secret' ) ) {
			return new WP_Error( 'scripthammer_not_configured', __( 'Set the shared secret in Settings → ScriptHammer first.', 'scripthammer' ), array( 'status' => 409 ) );
		}
		if ( $companion_id <= 0 ) {
			$title   = get_the_title( $post_id );
			$created = $companion->create_track(
				array(
					'title'         => '' !== $title ? wp_strip_all_tags( $title ) : __( 'Untitled track', 'scripthammer' ),
					'release_state' => 'draft',
				)
			);
			if ( is_wp_error( $created ) ) {
				return self::as_response_error( $created );
			}
			$companion_id = (int) $created['id'];
			update_post_meta( $post_id, PostTypes::META_COMPANION_ID, $companion_id );
		}
		$user = wp_get_current_user();
		return new WP_REST_Response(
			array(
				'companion_id' => $companion_id,
				'upload_url'   => Settings::companion_public_url() . '/api/tracks/' . $companion_id . '/upload',
				'token'        => $companion->upload_token( $companion_id, (string) $user->user_login ),
				'expires_in'   => 600,
			)
		);
	}

	/**
	 * POST /editor/tracks/<post>/publication {action: publish|unpublish}: ask the companion (signed) to
	 * publish the track on this site or return it to draft. The companion's job updates this very post
	 * (it finds it by companion id); the editor follows the job through /editor/jobs/<job>.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response|WP_Error
	 */
	public function editor_publish( WP_REST_Request $request ) {
		$post_id      = (int) $request['post'];
		$companion_id = (int) get_post_meta( $post_id, PostTypes::META_COMPANION_ID, true );
		if ( $companion_id <= 0 ) {
			return new WP_Error( 'scripthammer_no_recording', __( 'Upload a recording first: the companion publishes tracks it knows.', 'scripthammer' ), array( 'status' => 409 ) );
		}
		$action = 'unpublish' === $request['action'] ? 'unpublish' : 'publish';
		$queued = Companion::from_settings()->publish( 'track', $companion_id, $action );
		if ( is_wp_error( $queued ) ) {
			return self::as_response_error( $queued );
		}
		return new WP_REST_Response(
			array(
				'job_id'      => (string) ( $queued['job_id'] ?? '' ),
				'action'      => $action,
				'publication' => self::publication_out( (array) ( $queued['publication'] ?? array() ) ),
			),
			202
		);
	}

	/**
	 * GET /editor/tracks/<post>/publication: where the track stands on this site (the companion's record).
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response|WP_Error
	 */
	public function editor_publication( WP_REST_Request $request ) {
		$post_id      = (int) $request['post'];
		$companion_id = (int) get_post_meta( $post_id, PostTypes::META_COMPANION_ID, true );
		if ( $companion_id <= 0 ) {
			return new WP_REST_Response( self::publication_out( array( 'state' => 'never' ) ) );
		}
		$publication = Companion::from_settings()->publication( 'track', $companion_id );
		if ( is_wp_error( $publication ) ) {
			return self::as_response_error( $publication );
		}
		return new WP_REST_Response( self::publication_out( $publication ) );
	}

	/**
	 * The fields of a companion publication the editor shows (nothing else is relayed).
	 *
	 * @param array<string,mixed> $pub The companion's publication.
	 * @return array<string,mixed>
	 */
	private static function publication_out( array $pub ): array {
		$error = isset( $pub['error'] ) && is_array( $pub['error'] ) ? $pub['error'] : null;
		$link  = (string) ( $pub['wp_link'] ?? '' );
		return array(
			'state'        => sanitize_key( (string) ( $pub['state'] ?? 'never' ) ),
			'wp_post_id'   => (int) ( $pub['wp_post_id'] ?? 0 ),
			'wp_status'    => sanitize_key( (string) ( $pub['wp_status'] ?? '' ) ),
			'link'         => '' !== $link ? esc_url_raw( $link ) : '',
			'attempts'     => (int) ( $pub['attempts'] ?? 0 ),
			'published_at' => isset( $pub['published_at'] ) ? (string) $pub['published_at'] : null,
			'error'        => $error ? array(
				'code'    => sanitize_key( (string) ( $error['code'] ?? '' ) ),
				'message' => sanitize_text_field( (string) ( $error['message'] ?? '' ) ),
			) : null,
		);
	}

	/**
	 * GET /editor/jobs/<job>: a release job's progress, for the editor's progress bar.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response|WP_Error
	 */
	public function editor_job( WP_REST_Request $request ) {
		$job = Companion::from_settings()->job( (string) $request['job'] );
		if ( is_wp_error( $job ) ) {
			return self::as_response_error( $job );
		}
		$error = null;
		if ( ! empty( $job['error_message'] ) || ! empty( $job['error'] ) ) {
			$error = (string) ( $job['error_message'] ?? ( $job['error']['message'] ?? '' ) );
		}
		return new WP_REST_Response(
			array(
				'id'       => (string) ( $job['id'] ?? '' ),
				'state'    => (string) ( $job['state'] ?? '' ),
				'progress' => (int) ( $job['progress'] ?? 0 ),
				'stage'    => (string) ( $job['stage'] ?? '' ),
				'error'    => $error,
			)
		);
	}

	/**
	 * GET /editor/tracks/<post>: the companion's track (renditions, loudness, waveform), also
	 * copied onto the post's meta.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response|WP_Error
	 */
	public function editor_track( WP_REST_Request $request ) {
		$post_id      = (int) $request['post'];
		$companion_id = (int) get_post_meta( $post_id, PostTypes::META_COMPANION_ID, true );
		if ( $companion_id <= 0 ) {
			return new WP_REST_Response( array( 'companion_id' => 0 ) );
		}
		$companion = Companion::from_settings();
		$track     = $companion->track( $companion_id );
		if ( is_wp_error( $track ) ) {
			return self::as_response_error( $track );
		}
		PostTypes::apply_companion_track( $post_id, $track );
		$waveform = array();
		$peaks    = (string) get_post_meta( $post_id, PostTypes::META_PEAKS_URL, true );
		if ( '' !== $peaks && 'ready' === ( $track['status'] ?? '' ) ) {
			$doc = $companion->media_json( $peaks );
			if ( ! is_wp_error( $doc ) ) {
				$waveform = self::waveform_points( $doc, 400 );
			}
		}
		return new WP_REST_Response(
			array(
				'companion_id' => $companion_id,
				'status'       => (string) ( $track['status'] ?? '' ),
				'release'      => (string) get_post_meta( $post_id, PostTypes::META_RELEASE, true ),
				'duration'     => $track['duration'] ?? null,
				'loudness'     => $track['loudness'] ?? null,
				'error'        => $track['error'] ?? null,
				'renditions'   => get_post_meta( $post_id, PostTypes::META_RENDITIONS, true ),
				'waveform'     => $waveform,
			)
		);
	}

	/**
	 * At most $max peak values in 0..1 from an audiowaveform JSON document.
	 *
	 * @param array<string,mixed> $doc The peaks document ({bits, channels, data: [min, max, ...]}).
	 * @param int                 $max How many points.
	 * @return float[]
	 */
	public static function waveform_points( array $doc, int $max ): array {
		$data     = array_values( (array) ( $doc['data'] ?? array() ) );
		$channels = max( 1, (int) ( $doc['channels'] ?? 1 ) );
		$full     = 8 === (int) ( $doc['bits'] ?? 16 ) ? 128.0 : 32768.0;
		$frames   = intdiv( count( $data ), 2 * $channels );
		if ( 0 === $frames ) {
			return array();
		}
		$step = max( 1, (int) ceil( $frames / $max ) );
		$out  = array();
		for ( $i = 0; $i < $frames; $i += $step ) {
			$peak = 0.0;
			for ( $j = $i; $j < min( $frames, $i + $step ); $j++ ) {
				for ( $c = 0; $c < 2 * $channels; $c++ ) {
					$peak = max( $peak, abs( (float) $data[ 2 * $channels * $j + $c ] ) );
				}
			}
			$out[] = $peak / $full;
		}
		// Scale to the loudest point, so that quiet recordings still draw a readable shape.
		$top = max( $out );
		return array_map( static fn( $p ) => round( $top > 0 ? $p / $top : 0.0, 3 ), $out );
	}

	/**
	 * A WP_Error with an HTTP status (the companion's, or 502).
	 *
	 * @param WP_Error $error The error.
	 */
	private static function as_response_error( WP_Error $error ): WP_Error {
		$data   = $error->get_error_data();
		$status = is_array( $data ) && isset( $data['status'] ) ? (int) $data['status'] : 502;
		return new WP_Error( $error->get_error_code(), $error->get_error_message(), array( 'status' => $status >= 500 || $status < 400 ? 502 : $status ) );
	}
}
