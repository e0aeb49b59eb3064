<?php
/**
 * Post types (album, track, performance, composition) and their REST-visible meta.
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
	public const META_HLS_URL      = 'scripthammer_hls_url';
	public const META_PEAKS_URL    = 'scripthammer_peaks_url';
	public const META_RELEASE      = 'scripthammer_release_state';
	public const META_LOUDNESS     = 'scripthammer_loudness_lufs';
	public const META_STATUS       = 'scripthammer_status';

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
		$auth  = static function ( $allowed, $meta_key, $post_id ) {
			return current_user_can( 'edit_post', (int) $post_id );
		};
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
			self::META_HLS_URL      => array( 'types' => $media, 'type' => 'string', 'default' => '', 'description' => 'The HLS master playlist.' ),
			self::META_PEAKS_URL    => array( 'types' => $media, 'type' => 'string', 'default' => '', 'description' => 'Waveform peaks (audiowaveform JSON).' ),
			self::META_RELEASE      => array( 'types' => $media, 'type' => 'string', 'default' => 'draft', 'description' => 'draft, unreleased, public or premium.', 'enum' => self::RELEASE_STATES ),
			self::META_LOUDNESS     => array( 'types' => $media, 'type' => 'number', 'default' => 0, 'description' => 'Integrated loudness of the master (LUFS).' ),
			self::META_STATUS       => array( 'types' => $media, 'type' => 'string', 'default' => '', 'description' => 'The companion\'s processing status.' ),
			self::META_ALBUM        => array( 'types' => array( self::TRACK ), 'type' => 'integer', 'default' => 0, 'description' => 'The album post this track belongs to.' ),
			self::META_TRACK_NUMBER => array( 'types' => array( self::TRACK ), 'type' => 'integer', 'default' => 0, 'description' => 'Position on the album.' ),
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
					'type'          => 'array',
					'single'        => true,
					'default'       => array(),
					'description'   => 'Downloads and streams: name, format, codec, bitrate, size, url.',
					'show_in_rest'  => array(
						'schema' => array(
							'type'  => 'array',
							'items' => $rendition,
						),
					),
					'auth_callback' => $auth,
				)
			);
		}
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
		$renditions = array();
		foreach ( (array) ( $track['renditions'] ?? array() ) as $r ) {
			if ( ! is_array( $r ) ) {
				continue;
			}
			$renditions[] = array(
				'name'     => sanitize_text_field( (string) ( $r['name'] ?? '' ) ),
				'kind'     => sanitize_key( (string) ( $r['kind'] ?? '' ) ),
				'format'   => sanitize_text_field( (string) ( $r['format'] ?? '' ) ),
				'codec'    => sanitize_text_field( (string) ( $r['codec'] ?? '' ) ),
				'mime'     => sanitize_text_field( (string) ( $r['mime'] ?? '' ) ),
				'bitrate'  => isset( $r['bitrate'] ) ? (int) $r['bitrate'] : null,
				'size'     => (int) ( $r['size'] ?? 0 ),
				'duration' => isset( $r['duration'] ) ? (float) $r['duration'] : null,
				'url'      => isset( $r['url'] ) ? esc_url_raw( (string) $r['url'] ) : null,
			);
		}
		$peaks = (array) ( $track['peaks'] ?? array() );
		usort( $peaks, static fn( $a, $b ) => (int) ( $b['samples_per_pixel'] ?? 0 ) <=> (int) ( $a['samples_per_pixel'] ?? 0 ) );
		update_post_meta( $post_id, self::META_COMPANION_ID, (int) ( $track['id'] ?? 0 ) );
		update_post_meta( $post_id, self::META_RENDITIONS, $renditions );
		update_post_meta( $post_id, self::META_DURATION, (float) ( $track['duration'] ?? 0 ) );
		update_post_meta( $post_id, self::META_HLS_URL, esc_url_raw( (string) ( $track['hls_url'] ?? '' ) ) );
		update_post_meta( $post_id, self::META_PEAKS_URL, esc_url_raw( (string) ( $peaks[0]['url'] ?? '' ) ) );
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
