<?php
/**
 * Post types (album, track, performance, composition) and their REST-visible meta.
 *
 * Every scripthammer_* meta is written by the companion (publishing) or the plugin itself: it is
 * protected (never a raw field in the Custom Fields box nor in XML-RPC's custom_fields) and only users
 * with scripthammer_manage may write it over REST or XML-RPC. No meta holds a URL that is not public:
 * renditions keep their names, codecs and sizes, and a URL only for the public preview; the player
 * (the companion's embed, META_EMBED_URL) asks the companion for everything else, signed per listener.
 *
 * @package ScriptHammer
 */

namespace ScriptHammer;

defined( 'ABSPATH' ) || exit;

use WP_Query;

/**
 * Content the companion publishes, and the meta the player and the editor read.
 */
final class PostTypes {

	public const ALBUM       = 'sh_album';
	public const TRACK       = 'sh_track';
	public const PERFORMANCE = 'sh_performance';
	public const COMPOSITION = 'sh_composition';

	public const META_COMPANION_ID = 'scripthammer_companion_id';
	public const META_ALBUM        = 'scripthammer_album';
	public const META_TRACK_NUMBER = 'scripthammer_track_number';
	public const META_DURATION     = 'scripthammer_duration';
	public const META_RENDITIONS   = 'scripthammer_renditions';
	/** No longer written (premium HLS is never in WordPress); upgrade() deletes what older versions stored. */
	public const META_HLS_URL      = 'scripthammer_hls_url';
	public const META_PEAKS_URL    = 'scripthammer_peaks_url';
	public const META_EMBED_URL    = 'scripthammer_embed_url';
	public const META_PREFIX       = 'scripthammer_';
	public const DB_VERSION_OPTION = 'scripthammer_meta_version';
	public const DB_VERSION        = '2';
	public const META_RELEASE      = 'scripthammer_release_state';
	public const META_LOUDNESS     = 'scripthammer_loudness_lufs';
	public const META_STATUS       = 'scripthammer_status';
	public const META_CREDITS      = 'scripthammer_credits';
	public const META_ISRC         = 'scripthammer_isrc';
	public const META_ISWC         = 'scripthammer_iswc';

	public const RELEASE_STATES = array( 'draft', 'unreleased', 'public', 'premium' );

	/**
	 * Post type slug => REST base, labels.
	 *
	 * @return array<string,array{rest:string,singular:string,plural:string,slug:string,icon:string}>
	 */
	public static function types(): array {
		return array(
			self::ALBUM       => array( 'rest' => 'sh-albums', 'singular' => __( 'Album', 'scripthammer' ), 'plural' => __( 'Albums', 'scripthammer' ), 'slug' => 'albums', 'icon' => 'dashicons-album' ),
			self::TRACK       => array( 'rest' => 'sh-tracks', 'singular' => __( 'Track', 'scripthammer' ), 'plural' => __( 'Tracks', 'scripthammer' ), 'slug' => 'tracks', 'icon' => 'dashicons-format-audio' ),
			self::PERFORMANCE => array( 'rest' => 'sh-performances', 'singular' => __( 'Performance', 'scripthammer' ), 'plural' => __( 'Performances', 'scripthammer' ), 'slug' => 'performances', 'icon' => 'dashicons-microphone' ),
			self::COMPOSITION => array( 'rest' => 'sh-compositions', 'singular' => __( 'Composition', 'scripthammer' ), 'plural' => __( 'Compositions', 'scripthammer' ), 'slug' => 'compositions', 'icon' => 'dashicons-edit-page' ),
		);
	}

	/**
	 * Register the post types and their meta (on init).
	 */
	public function register(): void {
		foreach ( self::types() as $type => $def ) {
			register_post_type(
				$type,
				array(
					'labels'          => array(
						'name'          => $def['plural'],
						'singular_name' => $def['singular'],
						/* translators: %s: singular name */
						'add_new_item'  => sprintf( __( 'Add New %s', 'scripthammer' ), $def['singular'] ),
						/* translators: %s: singular name */
						'edit_item'     => sprintf( __( 'Edit %s', 'scripthammer' ), $def['singular'] ),
					),
					'public'          => true,
					'show_in_rest'    => true,
					'rest_base'       => $def['rest'],
					'has_archive'     => true,
					'rewrite'         => array( 'slug' => $def['slug'] ),
					'menu_icon'       => $def['icon'],
					'supports'        => array( 'title', 'editor', 'excerpt', 'thumbnail', 'custom-fields', 'page-attributes' ),
					'capability_type' => 'post',
					'map_meta_cap'    => true,
				)
			);
		}
		$this->register_meta();
	}

	/**
	 * Meta with REST schemas.
	 */
	private function register_meta(): void {
		$media = array( self::ALBUM, self::TRACK, self::PERFORMANCE );
		$all   = array_keys( self::types() );
		$auth  = array( self::class, 'may_write_meta' );
		$rendition = array(
			'type'                 => 'object',
			'properties'           => array(
				'name'     => array( 'type' => 'string' ),
				'kind'     => array( 'type' => 'string' ),
				'format'   => array( 'type' => 'string' ),
				'codec'    => array( 'type' => 'string' ),
				'mime'     => array( 'type' => 'string' ),
				'bitrate'  => array( 'type' => array( 'integer', 'null' ) ),
				'size'     => array( 'type' => 'integer' ),
				'duration' => array( 'type' => array( 'number', 'null' ) ),
				'url'      => array( 'type' => array( 'string', 'null' ) ),
			),
			'additionalProperties' => false,
		);
		$fields = array(
			self::META_COMPANION_ID => array( 'types' => $all, 'type' => 'integer', 'default' => 0, 'description' => 'The id of this item on the companion (the publishing key).' ),
			self::META_DURATION     => array( 'types' => $media, 'type' => 'number', 'default' => 0, 'description' => 'Duration in seconds.' ),
			self::META_PEAKS_URL    => array( 'types' => $media, 'type' => 'string', 'default' => '', 'description' => 'Waveform peaks (audiowaveform JSON, public).' ),
			self::META_EMBED_URL    => array( 'types' => $media, 'type' => 'string', 'default' => '', 'description' => 'The companion\'s player for this item (public).' ),
			self::META_RELEASE      => array( 'types' => $media, 'type' => 'string', 'default' => 'draft', 'description' => 'draft, unreleased, public or premium.', 'enum' => self::RELEASE_STATES ),
			self::META_LOUDNESS     => array( 'types' => $media, 'type' => 'number', 'default' => 0, 'description' => 'Integrated loudness of the master (LUFS).' ),
			self::META_STATUS       => array( 'types' => $media, 'type' => 'string', 'default' => '', 'description' => 'The companion\'s processing status.' ),
			self::META_ALBUM        => array( 'types' => array( self::TRACK ), 'type' => 'integer', 'default' => 0, 'description' => 'The album post this track belongs to.' ),
			self::META_TRACK_NUMBER => array( 'types' => array( self::TRACK ), 'type' => 'integer', 'default' => 0, 'description' => 'Position on the album.' ),
			self::META_CREDITS      => array( 'types' => array( self::TRACK ), 'type' => 'string', 'default' => '', 'description' => 'Who wrote it (shares by sounding duration) and who performs it, from the composition\'s history.' ),
			self::META_ISRC         => array( 'types' => array( self::TRACK ), 'type' => 'string', 'default' => '', 'description' => 'The recording\'s ISRC (CC-XXX-YY-NNNNN).' ),
			self::META_ISWC         => array( 'types' => array( self::TRACK ), 'type' => 'string', 'default' => '', 'description' => 'The work\'s ISWC (T-DDD.DDD.DDD-C).' ),
			// Public: anyone may read a broadcast's countdown and a live session's state on the companion.
			Blocks::META_LIVE_SESSION => array( 'types' => array( self::PERFORMANCE ), 'type' => 'integer', 'default' => 0, 'description' => 'The companion\'s live session this performance broadcasts (the companion writes it when a scheduled broadcast starts).' ),
			Blocks::META_RECORDING_TRACK => array( 'types' => array( self::PERFORMANCE ), 'type' => 'integer', 'default' => 0, 'description' => 'The companion\'s track of this performance\'s released recording (the companion writes it once the broadcast ended and the recording is published): the live block plays it.' ),
			Broadcasts::META_BROADCAST => array( 'types' => array( self::PERFORMANCE ), 'type' => 'integer', 'default' => 0, 'description' => 'The companion\'s scheduled broadcast of this performance (its countdown before the start).' ),
		);
		foreach ( $fields as $key => $def ) {
			$schema = array( 'type' => $def['type'] );
			if ( isset( $def['enum'] ) ) {
				$schema['enum'] = $def['enum'];
			}
			foreach ( $def['types'] as $type ) {
				register_post_meta(
					$type,
					$key,
					array(
						'type'              => $def['type'],
						'single'            => true,
						'default'           => $def['default'],
						'description'       => $def['description'],
						'show_in_rest'      => array( 'schema' => $schema ),
						'auth_callback'     => $auth,
						'sanitize_callback' => isset( $def['enum'] ) ? array( self::class, 'sanitize_release_state' ) : null,
					)
				);
			}
		}
		foreach ( $media as $type ) {
			register_post_meta(
				$type,
				self::META_RENDITIONS,
				array(
					'type'              => 'array',
					'single'            => true,
					'default'           => array(),
					'description'       => 'Renditions: name, format, codec, bitrate, size; a url only for the public preview.',
					'show_in_rest'      => array(
						'schema'           => array(
							'type'  => 'array',
							'items' => $rendition,
						),
						'prepare_callback' => static fn( $value ) => self::public_renditions( is_array( $value ) ? $value : array() ),
					),
					'auth_callback'     => $auth,
					'sanitize_callback' => array( self::class, 'sanitize_renditions' ),
				)
			);
		}
	}

	/**
	 * auth_callback of every scripthammer_* meta: only users with scripthammer_manage who may edit the post
	 * write it (REST, XML-RPC, wp-admin). The companion id decides which companion track upload tokens and
	 * reads aim at, so an author or editor must not be able to point a post at another track.
	 *
	 * @param bool   $allowed  Allowed so far (false for protected meta).
	 * @param string $meta_key The key.
	 * @param int    $post_id  The post.
	 * @param int    $user_id  The user.
	 */
	public static function may_write_meta( $allowed, $meta_key, $post_id, $user_id = 0 ): bool {
		$user_id = (int) ( $user_id ? $user_id : get_current_user_id() );
		return $user_id > 0 && user_can( $user_id, Roles::CAP_MANAGE ) && user_can( $user_id, 'edit_post', (int) $post_id );
	}

	/**
	 * Filter is_protected_meta: every scripthammer_* key is protected (hidden from the Custom Fields box
	 * and from XML-RPC's custom_fields, refused there as a raw field).
	 *
	 * @param bool   $protected Protected so far.
	 * @param string $meta_key  The key.
	 */
	public static function protect_meta( $protected, $meta_key ) {
		return ( is_string( $meta_key ) && 0 === strpos( $meta_key, self::META_PREFIX ) ) ? true : $protected;
	}

	/**
	 * Renditions as WordPress may keep them: descriptive fields, and a URL only for the preview.
	 *
	 * @param mixed $renditions Renditions (from the companion or a REST write).
	 * @return array<int,array<string,mixed>>
	 */
	public static function sanitize_renditions( $renditions ): array {
		$out = array();
		foreach ( is_array( $renditions ) ? $renditions : array() as $r ) {
			if ( ! is_array( $r ) ) {
				continue;
			}
			$kind  = sanitize_key( (string) ( $r['kind'] ?? '' ) );
			$url   = 'preview' === $kind && ! empty( $r['url'] ) ? esc_url_raw( (string) $r['url'], array( 'http', 'https' ) ) : '';
			$out[] = array(
				'name'     => sanitize_text_field( (string) ( $r['name'] ?? '' ) ),
				'kind'     => $kind,
				'format'   => sanitize_text_field( (string) ( $r['format'] ?? '' ) ),
				'codec'    => sanitize_text_field( (string) ( $r['codec'] ?? '' ) ),
				'mime'     => sanitize_text_field( (string) ( $r['mime'] ?? '' ) ),
				'bitrate'  => isset( $r['bitrate'] ) ? (int) $r['bitrate'] : null,
				'size'     => (int) ( $r['size'] ?? 0 ),
				'duration' => isset( $r['duration'] ) ? (float) $r['duration'] : null,
				'url'      => '' !== $url ? $url : null,
			);
		}
		return $out;
	}

	/**
	 * Renditions as REST shows them (whatever an older version stored): no URL but the preview's.
	 *
	 * @param array<int,mixed> $renditions Stored renditions.
	 * @return array<int,array<string,mixed>>
	 */
	public static function public_renditions( array $renditions ): array {
		return self::sanitize_renditions( $renditions );
	}

	/**
	 * On admin_init, once: delete what older versions stored that is not public (HLS URLs, rendition
	 * URLs other than the preview's).
	 */
	public static function upgrade(): void {
		if ( get_option( self::DB_VERSION_OPTION ) === self::DB_VERSION ) {
			return;
		}
		delete_post_meta_by_key( self::META_HLS_URL );
		$ids = get_posts(
			array(
				'post_type'      => array_keys( self::types() ),
				'post_status'    => 'any',
				'posts_per_page' => -1,
				'fields'         => 'ids',
				'meta_key'       => self::META_RENDITIONS, // phpcs:ignore WordPress.DB.SlowDBQuery
			)
		);
		foreach ( $ids as $id ) {
			update_post_meta( (int) $id, self::META_RENDITIONS, self::sanitize_renditions( get_post_meta( (int) $id, self::META_RENDITIONS, true ) ) );
		}
		update_option( self::DB_VERSION_OPTION, self::DB_VERSION, false );
	}

	/**
	 * Keep release states to the four the companion knows.
	 *
	 * @param mixed $value The submitted state.
	 */
	public static function sanitize_release_state( $value ): string {
		$value = sanitize_key( (string) $value );
		return in_array( $value, self::RELEASE_STATES, true ) ? $value : 'draft';
	}

	/**
	 * REST: ?companion_id=N filters a collection by the companion's id (publishing looks posts up by it).
	 *
	 * @param array<string,mixed> $args    WP_Query args.
	 * @param \WP_REST_Request    $request The request.
	 * @return array<string,mixed>
	 */
	public static function rest_query_by_companion_id( array $args, $request ): array {
		$id = $request->get_param( 'companion_id' );
		if ( null !== $id && '' !== $id ) {
			$args['meta_query'] = array( // phpcs:ignore WordPress.DB.SlowDBQuery
				array(
					'key'   => self::META_COMPANION_ID,
					'value' => absint( $id ),
					'type'  => 'NUMERIC',
				),
			);
		}
		return $args;
	}

	/**
	 * The post of a companion item (any status but trash), or 0.
	 *
	 * @param string $type         Post type.
	 * @param int    $companion_id Companion id.
	 */
	public static function find_by_companion_id( string $type, int $companion_id ): int {
		$q = new WP_Query(
			array(
				'post_type'      => $type,
				'post_status'    => array( 'publish', 'draft', 'pending', 'private', 'future' ),
				'posts_per_page' => 1,
				'fields'         => 'ids',
				'no_found_rows'  => true,
				'orderby'        => 'ID',
				'order'          => 'ASC',
				'meta_query'     => array( // phpcs:ignore WordPress.DB.SlowDBQuery
					array(
						'key'   => self::META_COMPANION_ID,
						'value' => $companion_id,
						'type'  => 'NUMERIC',
					),
				),
			)
		);
		return $q->posts ? (int) $q->posts[0] : 0;
	}

	/**
	 * Copy what the companion says about a track onto its post's meta.
	 *
	 * @param int                 $post_id The post.
	 * @param array<string,mixed> $track   The companion's track JSON (GET /api/tracks/<id>).
	 */
	public static function apply_companion_track( int $post_id, array $track ): void {
		$peaks = (array) ( $track['peaks'] ?? array() );
		usort( $peaks, static fn( $a, $b ) => (int) ( $b['samples_per_pixel'] ?? 0 ) <=> (int) ( $a['samples_per_pixel'] ?? 0 ) );
		update_post_meta( $post_id, self::META_COMPANION_ID, (int) ( $track['id'] ?? 0 ) );
		update_post_meta( $post_id, self::META_RENDITIONS, self::sanitize_renditions( (array) ( $track['renditions'] ?? array() ) ) );
		update_post_meta( $post_id, self::META_DURATION, (float) ( $track['duration'] ?? 0 ) );
		delete_post_meta( $post_id, self::META_HLS_URL );
		update_post_meta( $post_id, self::META_PEAKS_URL, esc_url_raw( (string) ( $peaks[0]['url'] ?? '' ) ) );
		if ( isset( $track['embed_url'] ) ) {
			update_post_meta( $post_id, self::META_EMBED_URL, esc_url_raw( (string) $track['embed_url'] ) );
		}
		update_post_meta( $post_id, self::META_STATUS, sanitize_key( (string) ( $track['status'] ?? '' ) ) );
		if ( isset( $track['loudness']['integrated_lufs'] ) ) {
			update_post_meta( $post_id, self::META_LOUDNESS, (float) $track['loudness']['integrated_lufs'] );
		}
		if ( isset( $track['release_state'] ) ) {
			update_post_meta( $post_id, self::META_RELEASE, self::sanitize_release_state( $track['release_state'] ) );
		}
	}

	/**
	 * Extra columns on the wp-admin track list.
	 *
	 * @param array<string,string> $columns Columns.
	 * @return array<string,string>
	 */
	public static function track_columns( array $columns ): array {
		$date = $columns['date'] ?? null;
		unset( $columns['date'] );
		$columns['scripthammer_release']  = __( 'Release', 'scripthammer' );
		$columns['scripthammer_status']   = __( 'Audio', 'scripthammer' );
		$columns['scripthammer_duration'] = __( 'Length', 'scripthammer' );
		if ( null !== $date ) {
			$columns['date'] = $date;
		}
		return $columns;
	}

	/**
	 * The extra columns' cells.
	 *
	 * @param string $column  Column.
	 * @param int    $post_id Post.
	 */
	public static function track_column( string $column, int $post_id ): void {
		switch ( $column ) {
			case 'scripthammer_release':
				echo esc_html( (string) get_post_meta( $post_id, self::META_RELEASE, true ) );
				break;
			case 'scripthammer_status':
				$status = (string) get_post_meta( $post_id, self::META_STATUS, true );
				echo esc_html( '' !== $status ? $status : '—' );
				break;
			case 'scripthammer_duration':
				$seconds = (int) round( (float) get_post_meta( $post_id, self::META_DURATION, true ) );
				echo esc_html( $seconds > 0 ? sprintf( '%d:%02d', intdiv( $seconds, 60 ), $seconds % 60 ) : '—' );
				break;
		}
	}
}
