<?php
/**
 * The "Fan feedback" page in wp-admin (under Listening): fans' timed reactions and comments from the
 * player, newest first, filtered by state (pending by default), with approve / hide / spam actions.
 * The companion keeps the feedback; this site lists it and moderates it through its signed client (the
 * shared secret never reaches a browser). Each action is a POST to admin-post.php, capability-checked
 * (those who manage ScriptHammer) and nonce-checked per feedback item. Text from fans is only ever
 * printed escaped.
 *
 * @package ScriptHammer
 */

namespace ScriptHammer;

defined( 'ABSPATH' ) || exit;

/**
 * The Fan feedback page and its moderation action.
 */
final class FanFeedback {

	public const PAGE   = 'scripthammer-fan-feedback';
	public const ACTION = 'scripthammer_feedback_moderate';
	public const STATES = array( 'pending', 'approved', 'hidden', 'spam' );
	public const MOVES  = array( 'approved', 'hidden', 'spam' );

	/**
	 * Hooks (called once by Plugin).
	 */
	public static function register(): void {
		add_action( 'admin_menu', array( self::class, 'add_menu' ), 20 );
		add_action( 'admin_post_' . self::ACTION, array( self::class, 'handle' ) );
	}

	/**
	 * A submenu of the Listening page.
	 */
	public static function add_menu(): void {
		add_submenu_page(
			Dashboard::PAGE,
			__( 'Fan feedback', 'scripthammer' ),
			__( 'Fan feedback', 'scripthammer' ),
			Roles::CAP_MANAGE,
			self::PAGE,
			array( self::class, 'render' )
		);
	}

	/**
	 * The nonce action of one item.
	 *
	 * @param int $id Feedback id.
	 */
	private static function nonce_action( int $id ): string {
		return self::ACTION . '_' . $id;
	}

	/**
	 * The state shown: from the query, pending by default, '' for all.
	 */
	private static function state(): string {
		// phpcs:ignore WordPress.Security.NonceVerification.Recommended -- a filter to show, nothing changes.
		$state = isset( $_GET['state'] ) ? sanitize_key( wp_unslash( $_GET['state'] ) ) : 'pending';
		return 'all' === $state ? '' : ( in_array( $state, self::STATES, true ) ? $state : 'pending' );
	}

	/**
	 * A position in the track as m:ss.
	 *
	 * @param float $seconds Seconds.
	 */
	private static function clock( float $seconds ): string {
		$s = (int) floor( $seconds );
		return sprintf( '%d:%02d', intdiv( $s, 60 ), $s % 60 );
	}

	/**
	 * The page.
	 */
	public static function render(): void {
		if ( ! current_user_can( Roles::CAP_MANAGE ) ) {
			wp_die( esc_html__( 'Only those who manage ScriptHammer may moderate fans\' feedback.', 'scripthammer' ), 403 );
		}
		$state = self::state();
		echo '<div class="wrap scripthammer-fan-feedback">';
		echo '<h1>' . esc_html__( 'Fan feedback', 'scripthammer' ) . '</h1>';
		// phpcs:disable WordPress.Security.NonceVerification.Recommended -- the outcome of a checked action, shown.
		if ( isset( $_GET['moderated'] ) ) {
			echo '<div class="notice notice-success is-dismissible" id="scripthammer-feedback-done"><p>' . esc_html(
				sprintf(
					/* translators: %s: the new state */
					__( 'Feedback marked %s.', 'scripthammer' ),
					sanitize_key( wp_unslash( $_GET['moderated'] ) )
				)
			) . '</p></div>';
		}
		if ( isset( $_GET['feedback_error'] ) ) {
			echo '<div class="notice notice-error" id="scripthammer-feedback-error"><p>' . esc_html( sanitize_text_field( wp_unslash( $_GET['feedback_error'] ) ) ) . '</p></div>';
		}
		// phpcs:enable
		echo '<ul class="subsubsub">';
		$links = array();
		foreach ( array_merge( self::STATES, array( 'all' ) ) as $s ) {
			$current = ( '' === $state ? 'all' : $state ) === $s;
			$links[] = '<li><a id="scripthammer-feedback-filter-' . esc_attr( $s ) . '" href="' . esc_url( add_query_arg( array( 'page' => self::PAGE, 'state' => $s ), admin_url( 'admin.php' ) ) ) . '"' . ( $current ? ' class="current" aria-current="page"' : '' ) . '>' . esc_html( ucfirst( $s ) ) . '</a></li>';
		}
		echo implode( ' | ', $links ); // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- built escaped above.
		echo '</ul><br class="clear">';
		$list = Companion::from_settings()->request( 'GET', '/api/feedback' . ( '' === $state ? '' : '?state=' . rawurlencode( $state ) ) );
		if ( is_wp_error( $list ) ) {
			echo '<div class="notice notice-error"><p>' . esc_html( $list->get_error_message() ) . '</p></div></div>';
			return;
		}
		$items = (array) ( $list['feedback'] ?? array() );
		echo '<table class="widefat striped" id="scripthammer-feedback"><thead><tr>';
		foreach ( array( __( 'Track', 'scripthammer' ), __( 'Time', 'scripthammer' ), __( 'Reaction', 'scripthammer' ), __( 'Text', 'scripthammer' ), __( 'Fan', 'scripthammer' ), __( 'Measure', 'scripthammer' ), __( 'State', 'scripthammer' ), __( 'Actions', 'scripthammer' ) ) as $label ) {
			echo '<th>' . esc_html( $label ) . '</th>';
		}
		echo '</tr></thead><tbody>';
		if ( ! $items ) {
			echo '<tr class="no-items"><td colspan="8">' . esc_html__( 'No feedback here.', 'scripthammer' ) . '</td></tr>';
		}
		foreach ( $items as $f ) {
			$id = (int) $f['id'];
			echo '<tr data-id="' . esc_attr( (string) $id ) . '" data-state="' . esc_attr( (string) $f['state'] ) . '">';
			echo '<td class="col-track">' . esc_html( (string) ( $f['track_title'] ?? '' ) ) . '</td>';
			echo '<td class="col-time">' . esc_html( self::clock( (float) $f['position'] ) ) . '</td>';
			echo '<td class="col-reaction" data-reaction="' . esc_attr( (string) ( $f['emoji'] ?? '' ) ) . '">' . esc_html( (string) ( $f['glyph'] ?? '' ) ) . '</td>';
			echo '<td class="col-text">' . esc_html( (string) ( $f['text'] ?? '' ) ) . '</td>';
			echo '<td class="col-fan">' . esc_html( (string) ( $f['author_name'] ?? '' ) ) . '</td>';
			$where = empty( $f['measure'] ) ? '–' : sprintf( '%s m%d', (string) $f['composition'], (int) $f['measure'] );
			echo '<td class="col-measure">' . esc_html( $where ) . '</td>';
			echo '<td class="col-state">' . esc_html( (string) $f['state'] ) . '</td><td class="col-actions">';
			echo '<form method="post" action="' . esc_url( admin_url( 'admin-post.php' ) ) . '" style="display:inline">';
			echo '<input type="hidden" name="action" value="' . esc_attr( self::ACTION ) . '">';
			echo '<input type="hidden" name="id" value="' . esc_attr( (string) $id ) . '">';
			echo '<input type="hidden" name="back" value="' . esc_attr( '' === $state ? 'all' : $state ) . '">';
			wp_nonce_field( self::nonce_action( $id ), '_wpnonce', false );
			foreach ( self::MOVES as $move ) {
				if ( $move === $f['state'] ) {
					continue;
				}
				$label = array(
					'approved' => __( 'Approve', 'scripthammer' ),
					'hidden'   => __( 'Hide', 'scripthammer' ),
					'spam'     => __( 'Spam', 'scripthammer' ),
				)[ $move ];
				echo '<button type="submit" class="button button-small" name="state" value="' . esc_attr( $move ) . '">' . esc_html( $label ) . '</button> ';
			}
			echo '</form></td></tr>';
		}
		echo '</tbody></table>';
		echo '<p class="description">' . esc_html__( 'New feedback is pending until approved; only approved feedback shows on the waveform and in the studio. Fans are shown by the name the site gave the companion; no addresses are kept.', 'scripthammer' ) . '</p>';
		echo '</div>';
	}

	/**
	 * Approve, hide or mark as spam: capability, then the item's nonce, then the companion.
	 */
	public static function handle(): void {
		if ( ! current_user_can( Roles::CAP_MANAGE ) ) {
			wp_die( esc_html__( 'Only those who manage ScriptHammer may moderate fans\' feedback.', 'scripthammer' ), 403 );
		}
		$id = isset( $_POST['id'] ) ? absint( $_POST['id'] ) : 0; // phpcs:ignore WordPress.Security.NonceVerification.Missing -- checked next, with this id.
		check_admin_referer( self::nonce_action( $id ) );
		$state = isset( $_POST['state'] ) ? sanitize_key( wp_unslash( $_POST['state'] ) ) : '';
		$back  = isset( $_POST['back'] ) ? sanitize_key( wp_unslash( $_POST['back'] ) ) : 'pending';
		if ( $id < 1 || ! in_array( $state, self::MOVES, true ) ) {
			wp_die( esc_html__( 'Approve, hide or spam: nothing else.', 'scripthammer' ), 400 );
		}
		$result = Companion::from_settings()->request( 'POST', '/api/feedback/' . $id, array( 'state' => $state ) );
		$args   = array(
			'page'  => self::PAGE,
			'state' => $back,
		);
		if ( is_wp_error( $result ) ) {
			$args['feedback_error'] = rawurlencode( $result->get_error_message() );
		} else {
			$args['moderated'] = $state;
		}
		wp_safe_redirect( add_query_arg( $args, admin_url( 'admin.php' ) ) );
		exit;
	}
}
