<?php
/**
 * The performance editor's "Scheduled broadcast" box: a start time in the site's timezone, sent (as UTC)
 * to the companion through its signed client, which schedules, reschedules or cancels the broadcast; the
 * broadcast's id is kept in the post's scripthammer_broadcast meta. At the start the companion writes the
 * live session into scripthammer_live_session, and the post's live block switches from the countdown
 * (/embed/broadcast/<id>) to the live player (/embed/live/<session>). A broadcast marked premium in the box
 * is heard only by fans with a ticket (the companion has the plugin make its WooCommerce product, priced
 * from the "live" price model), a subscription or a grant.
 *
 * @package ScriptHammer
 */

namespace ScriptHammer;

defined( 'ABSPATH' ) || exit;

use WP_Error;

/**
 * Meta box, its save handler (nonce, capabilities) and the editor's notices.
 */
final class Broadcasts {

	/** The companion's broadcast id of a performance post (public: its countdown page is public). */
	public const META_BROADCAST = 'scripthammer_broadcast';
	/** Nonce action prefix (per post). */
	public const NONCE = 'scripthammer_broadcast_';
	/** Title length the companion accepts. */
	private const TITLE_MAX = 200;

	/**
	 * Hooks (from Plugin).
	 */
	public static function register(): void {
		add_action( 'add_meta_boxes_' . PostTypes::PERFORMANCE, array( self::class, 'add_meta_box' ) );
		add_action( 'save_post_' . PostTypes::PERFORMANCE, array( self::class, 'save' ), 20, 2 );
		add_action( 'admin_notices', array( self::class, 'admin_notice' ) );
	}

	/**
	 * May the current user schedule a broadcast of this post: edit it, and publish (a broadcast is public).
	 *
	 * @param int $post_id The performance post.
	 */
	public static function may_schedule( int $post_id ): bool {
		$type = get_post_type_object( PostTypes::PERFORMANCE );
		return $post_id > 0 && current_user_can( 'edit_post', $post_id )
			&& $type && current_user_can( $type->cap->publish_posts );
	}

	/**
	 * Add the box (on add_meta_boxes_sh_performance).
	 */
	public static function add_meta_box(): void {
		add_meta_box( 'scripthammer-broadcast', __( 'Scheduled broadcast', 'scripthammer' ), array( self::class, 'render' ), PostTypes::PERFORMANCE, 'side', 'high' );
	}

	/**
	 * A start time typed in the site's timezone (datetime-local: 2026-12-24T20:00, seconds optional) as
	 * the companion's UTC form (2026-12-24T19:00:00Z), or a WP_Error.
	 *
	 * @param string        $local The time as typed.
	 * @param \DateTimeZone $tz    The site's timezone.
	 * @return string|WP_Error
	 */
	public static function to_utc( string $local, \DateTimeZone $tz ) {
		$local = trim( $local );
		foreach ( array( '!Y-m-d\TH:i', '!Y-m-d\TH:i:s', '!Y-m-d H:i', '!Y-m-d H:i:s' ) as $format ) {
			$when = \DateTimeImmutable::createFromFormat( $format, $local, $tz );
			$errors = \DateTimeImmutable::getLastErrors();
			if ( $when && ( false === $errors || ( 0 === $errors['warning_count'] && 0 === $errors['error_count'] ) ) ) {
				return $when->setTimezone( new \DateTimeZone( 'UTC' ) )->format( 'Y-m-d\TH:i:s\Z' );
			}
		}
		return new WP_Error( 'scripthammer_bad_time', __( 'The start time is not a date and time (YYYY-MM-DD HH:MM).', 'scripthammer' ) );
	}

	/**
	 * A UTC time from the companion (2026-12-24T19:00:00Z) in the site's timezone, for the input.
	 *
	 * @param string        $utc The companion's time.
	 * @param \DateTimeZone $tz  The site's timezone.
	 */
	public static function to_local( string $utc, \DateTimeZone $tz ): string {
		try {
			return ( new \DateTimeImmutable( $utc ) )->setTimezone( $tz )->format( 'Y-m-d\TH:i' );
		} catch ( \Exception $e ) {
			return '';
		}
	}

	/**
	 * The box: where the broadcast stands, the start time, a cancel checkbox; saved with the post.
	 *
	 * @param \WP_Post $post The performance.
	 */
	public static function render( $post ): void {
		$id      = absint( get_post_meta( $post->ID, self::META_BROADCAST, true ) );
		$tz      = wp_timezone();
		$current = $id ? Companion::from_settings()->request( 'GET', '/api/live/broadcasts/' . $id ) : null;
		$state   = is_array( $current ) ? (string) ( $current['state'] ?? '' ) : '';
		$value   = ( 'scheduled' === $state && ! empty( $current['starts_at'] ) ) ? self::to_local( (string) $current['starts_at'], $tz ) : '';
		$may     = self::may_schedule( (int) $post->ID );
		wp_nonce_field( self::NONCE . $post->ID, 'scripthammer_broadcast_nonce' );
		echo '<div id="scripthammer-broadcast-box" data-broadcast="' . esc_attr( (string) $id ) . '" data-state="' . esc_attr( $state ) . '">';
		if ( $current instanceof WP_Error ) {
			echo '<p class="scripthammer-broadcast-error">' . esc_html( $current->get_error_message() ) . '</p>';
		} elseif ( '' !== $state ) {
			$labels = array(
				'scheduled' => __( 'Scheduled', 'scripthammer' ),
				'starting'  => __( 'Starting', 'scripthammer' ),
				'live'      => __( 'Live now', 'scripthammer' ),
				'ended'     => __( 'Ended', 'scripthammer' ),
				'cancelled' => __( 'Cancelled', 'scripthammer' ),
				'failed'    => __( 'Failed', 'scripthammer' ),
			);
			echo '<p><strong>' . esc_html( $labels[ $state ] ?? $state ) . '</strong>';
			if ( ! empty( $current['starts_at'] ) ) {
				echo ' · ' . esc_html( wp_date( get_option( 'date_format' ) . ' ' . get_option( 'time_format' ), strtotime( (string) $current['starts_at'] ) ) );
			}
			if ( ! empty( $current['reason'] ) && in_array( $state, array( 'failed', 'cancelled' ), true ) ) {
				echo '<br />' . esc_html( (string) $current['reason'] );
			}
			echo '</p>';
		}
		$disabled = ( $may && ! in_array( $state, array( 'starting', 'live' ), true ) ) ? '' : ' disabled';
		printf(
			'<p><label for="scripthammer-broadcast-start">%1$s</label><br /><input type="datetime-local" id="scripthammer-broadcast-start" name="scripthammer_broadcast_start" value="%2$s"%3$s /><br /><span class="description">%4$s</span></p>',
			esc_html__( 'Goes live at', 'scripthammer' ),
			esc_attr( $value ),
			$disabled, // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- a constant attribute.
			/* translators: %s: the site's timezone */
			esc_html( sprintf( __( 'In the site\'s timezone (%s). Saved with the post.', 'scripthammer' ), wp_timezone_string() ) )
		);
		$premium = is_array( $current ) && ! empty( $current['premium'] );
		printf(
			'<p><label><input type="checkbox" id="scripthammer-broadcast-premium" name="scripthammer_broadcast_premium" value="1"%1$s%2$s /> %3$s</label></p>',
			checked( $premium, true, false ),
			$disabled, // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- a constant attribute.
			esc_html__( 'Premium: listeners need a ticket (sold in the shop) or a subscription', 'scripthammer' )
		);
		if ( 'scheduled' === $state && $may ) {
			echo '<p><label><input type="checkbox" name="scripthammer_broadcast_cancel" value="1" /> ' . esc_html__( 'Cancel the broadcast', 'scripthammer' ) . '</label></p>';
		}
		if ( ! $may ) {
			echo '<p class="description">' . esc_html__( 'You may not schedule broadcasts of this post.', 'scripthammer' ) . '</p>';
		}
		echo '</div>';
	}

	/**
	 * Save (on save_post_sh_performance): nonce and capabilities checked, then the companion schedules,
	 * reschedules or cancels; what it says is shown to the editor on the next screen.
	 *
	 * @param int      $post_id The performance.
	 * @param \WP_Post $post    The post.
	 */
	public static function save( $post_id, $post = null ): void {
		if ( ! isset( $_POST['scripthammer_broadcast_nonce'] ) ) {
			return;
		}
		if ( ! wp_verify_nonce( sanitize_text_field( wp_unslash( $_POST['scripthammer_broadcast_nonce'] ) ), self::NONCE . $post_id ) ) {
			return;
		}
		if ( ( defined( 'DOING_AUTOSAVE' ) && DOING_AUTOSAVE ) || wp_is_post_revision( $post_id ) || ! self::may_schedule( (int) $post_id ) ) {
			return;
		}
		$result = self::apply(
			(int) $post_id,
			sanitize_text_field( wp_unslash( $_POST['scripthammer_broadcast_start'] ?? '' ) ),
			! empty( $_POST['scripthammer_broadcast_cancel'] ),
			! empty( $_POST['scripthammer_broadcast_premium'] )
		);
		if ( null !== $result ) {
			set_transient( self::notice_key( (int) $post_id ), $result, 300 );
		}
	}

	/**
	 * Schedule, reschedule or cancel the post's broadcast.
	 *
	 * @param int    $post_id The performance.
	 * @param string $start   The start time in the site's timezone ('' leaves it alone).
	 * @param bool   $cancel  Cancel it.
	 * @param bool   $premium Premium: listeners need a ticket, a subscription or a grant.
	 * @return array{type:string,text:string}|null The notice for the editor (null: nothing changed).
	 */
	public static function apply( int $post_id, string $start, bool $cancel, bool $premium = false ): ?array {
		$client   = Companion::from_settings();
		$existing = absint( get_post_meta( $post_id, self::META_BROADCAST, true ) );
		if ( $cancel ) {
			if ( ! $existing ) {
				return null;
			}
			$done = $client->request( 'POST', '/api/live/broadcasts/' . $existing . '/cancel' );
			return is_wp_error( $done ) ? self::error( $done ) : array( 'type' => 'success', 'text' => __( 'The broadcast is cancelled.', 'scripthammer' ) );
		}
		if ( '' === $start ) {
			return null;
		}
		$utc = self::to_utc( $start, wp_timezone() );
		if ( is_wp_error( $utc ) ) {
			return self::error( $utc );
		}
		$title   = get_the_title( $post_id );
		$title   = '' !== trim( wp_strip_all_tags( $title ) ) ? wp_strip_all_tags( html_entity_decode( $title, ENT_QUOTES ) ) : __( 'Live broadcast', 'scripthammer' );
		$title   = function_exists( 'mb_substr' ) ? mb_substr( $title, 0, self::TITLE_MAX ) : substr( $title, 0, self::TITLE_MAX );
		$current = $existing ? $client->request( 'GET', '/api/live/broadcasts/' . $existing ) : null;
		if ( is_wp_error( $current ) && 'scripthammer_broadcast_not_found' !== $current->get_error_code() ) {
			return self::error( $current );
		}
		$state = is_array( $current ) ? (string) ( $current['state'] ?? '' ) : '';
		if ( in_array( $state, array( 'starting', 'live' ), true ) ) {
			return array( 'type' => 'warning', 'text' => __( 'The broadcast is on air: it can no longer be rescheduled.', 'scripthammer' ) );
		}
		if ( 'scheduled' === $state ) {
			if ( ( $current['starts_at'] ?? '' ) === $utc && ( $current['title'] ?? '' ) === $title
				&& ! empty( $current['premium'] ) === $premium ) {
				return null;
			}
			$done = $client->request(
				'PATCH',
				'/api/live/broadcasts/' . $existing,
				array(
					'starts_at' => $utc,
					'title'     => $title,
					'premium'   => $premium,
				)
			);
			return is_wp_error( $done ) ? self::error( $done ) : array( 'type' => 'success', 'text' => __( 'The broadcast is rescheduled.', 'scripthammer' ) );
		}
		$done = $client->request(
			'POST',
			'/api/live/broadcasts',
			array(
				'wp_post_id' => $post_id,
				'title'      => $title,
				'starts_at'  => $utc,
				'premium'    => $premium,
			),
			array( 201 )
		);
		if ( is_wp_error( $done ) ) {
			return self::error( $done );
		}
		update_post_meta( $post_id, self::META_BROADCAST, absint( $done['id'] ?? 0 ) );
		delete_post_meta( $post_id, Blocks::META_LIVE_SESSION ); // a session of an earlier broadcast
		return array( 'type' => 'success', 'text' => __( 'The broadcast is scheduled.', 'scripthammer' ) );
	}

	/**
	 * A notice from an error.
	 *
	 * @param WP_Error $error The error.
	 * @return array{type:string,text:string}
	 */
	private static function error( WP_Error $error ): array {
		return array(
			'type' => 'error',
			/* translators: %s: the reason */
			'text' => sprintf( __( 'The broadcast was not scheduled: %s', 'scripthammer' ), $error->get_error_message() ),
		);
	}

	/**
	 * The transient of this user's notice for a post.
	 *
	 * @param int $post_id The post.
	 */
	private static function notice_key( int $post_id ): string {
		return 'scripthammer_bc_' . get_current_user_id() . '_' . $post_id;
	}

	/**
	 * Show (once) what the last save did, on the post's edit screen.
	 */
	public static function admin_notice(): void {
		$screen = function_exists( 'get_current_screen' ) ? get_current_screen() : null;
		$post   = get_post();
		if ( ! $screen || PostTypes::PERFORMANCE !== $screen->post_type || ! $post ) {
			return;
		}
		$notice = get_transient( self::notice_key( (int) $post->ID ) );
		if ( ! is_array( $notice ) ) {
			return;
		}
		delete_transient( self::notice_key( (int) $post->ID ) );
		printf(
			'<div class="notice notice-%1$s is-dismissible scripthammer-broadcast-notice"><p>%2$s</p></div>',
			esc_attr( in_array( $notice['type'], array( 'success', 'warning', 'error' ), true ) ? $notice['type'] : 'info' ),
			esc_html( (string) $notice['text'] )
		);
	}
}
