<?php
/**
 * Fans' personal data in WordPress's privacy tools (Tools → Export / Erase Personal Data): an exporter
 * and an eraser that ask the companion (signed requests: POST /api/privacy/export and /erase), and the
 * text suggested for the site's privacy policy.
 *
 * The companion knows fans by their WordPress user id, so a request's e-mail address is looked up as a
 * WordPress user first; an address with no user has nothing on the companion.
 *
 * When the companion cannot be reached (or refuses), the exporter answers a WP_Error (WordPress shows it
 * and the export stops: no silently partial file), and the eraser reports items_retained with the reason.
 * The request is then kept open: it is not marked completed (and the fan gets no "your data was erased"
 * e-mail) until an erasure run in which the companion answered.
 *
 * @package ScriptHammer
 */

namespace ScriptHammer;

defined( 'ABSPATH' ) || exit;

use WP_Error;

/**
 * The exporter, the eraser and the privacy-policy text.
 */
final class Privacy {

	/**
	 * The exporter's and eraser's key in WordPress's lists.
	 */
	public const KEY = 'scripthammer';

	/**
	 * Request meta: the companion did not erase in the last run of this request.
	 */
	public const FAILED_META = '_scripthammer_erasure_failed';

	/**
	 * Export items asked for per page.
	 */
	public const PER_PAGE = 100;

	/**
	 * Register the hooks.
	 */
	public static function register(): void {
		add_filter( 'wp_privacy_personal_data_exporters', array( self::class, 'add_exporter' ) );
		add_filter( 'wp_privacy_personal_data_erasers', array( self::class, 'add_eraser' ) );
		add_filter( 'wp_privacy_personal_data_erasure_page', array( self::class, 'hold_open_when_failed' ), 9, 5 );
		add_action( 'admin_init', array( self::class, 'add_policy_content' ) );
	}

	/**
	 * Add the exporter.
	 *
	 * @param array<string,mixed> $exporters The exporters.
	 * @return array<string,mixed>
	 */
	public static function add_exporter( $exporters ): array {
		$exporters                = is_array( $exporters ) ? $exporters : array();
		$exporters[ self::KEY ] = array(
			'exporter_friendly_name' => __( 'ScriptHammer music companion', 'scripthammer' ),
			'callback'               => array( self::class, 'export' ),
		);
		return $exporters;
	}

	/**
	 * Add the eraser.
	 *
	 * @param array<string,mixed> $erasers The erasers.
	 * @return array<string,mixed>
	 */
	public static function add_eraser( $erasers ): array {
		$erasers                = is_array( $erasers ) ? $erasers : array();
		$erasers[ self::KEY ] = array(
			'eraser_friendly_name' => __( 'ScriptHammer music companion', 'scripthammer' ),
			'callback'             => array( self::class, 'erase' ),
		);
		return $erasers;
	}

	/**
	 * The WordPress user an e-mail address belongs to (0: none).
	 *
	 * @param string $email_address The request's address.
	 */
	private static function user_id( $email_address ): int {
		$user = is_email( (string) $email_address ) ? get_user_by( 'email', (string) $email_address ) : false;
		return $user ? (int) $user->ID : 0;
	}

	/**
	 * One page of the fan's data on the companion (WordPress's exporter contract: {data, done}).
	 *
	 * @param string $email_address The request's address.
	 * @param int    $page          Page, from 1.
	 * @return array<string,mixed>|WP_Error
	 */
	public static function export( $email_address, $page = 1 ) {
		$user_id = self::user_id( $email_address );
		if ( $user_id <= 0 ) {
			return array(
				'data' => array(),
				'done' => true,
			);
		}
		$got = Companion::from_settings()->request(
			'POST',
			'/api/privacy/export',
			array(
				'wp_user_id' => $user_id,
				'page'       => max( 1, (int) $page ),
				'per_page'   => self::PER_PAGE,
			)
		);
		if ( is_wp_error( $got ) ) {
			return new WP_Error(
				'scripthammer_privacy_export',
				sprintf(
					/* translators: %s: the reason */
					__( 'The music companion\'s part of this export could not be made, so the export stopped. Try again once it answers. %s', 'scripthammer' ),
					$got->get_error_message()
				)
			);
		}
		return array(
			'data' => self::clean_items( $got['data'] ?? array() ),
			'done' => ! empty( $got['done'] ),
		);
	}

	/**
	 * The companion's export items, as plain text in WordPress's item shape.
	 *
	 * @param mixed $items The companion's data.
	 * @return array<int,array<string,mixed>>
	 */
	private static function clean_items( $items ): array {
		$out = array();
		foreach ( is_array( $items ) ? $items : array() as $item ) {
			if ( ! is_array( $item ) || empty( $item['group_id'] ) || empty( $item['item_id'] ) ) {
				continue;
			}
			$data = array();
			foreach ( is_array( $item['data'] ?? null ) ? $item['data'] : array() as $pair ) {
				if ( is_array( $pair ) && isset( $pair['name'] ) ) {
					$data[] = array(
						'name'  => sanitize_text_field( (string) $pair['name'] ),
						'value' => esc_html( (string) ( $pair['value'] ?? '' ) ),
					);
				}
			}
			$out[] = array(
				'group_id'          => sanitize_key( (string) $item['group_id'] ),
				'group_label'       => sanitize_text_field( (string) ( $item['group_label'] ?? '' ) ),
				'group_description' => sanitize_text_field( (string) ( $item['group_description'] ?? '' ) ),
				'item_id'           => sanitize_key( (string) $item['item_id'] ),
				'data'              => $data,
			);
		}
		return $out;
	}

	/**
	 * Erase the fan's data on the companion (WordPress's eraser contract: items_removed, items_retained,
	 * messages, done). The companion does it all in one call, so there is one page.
	 *
	 * @param string $email_address The request's address.
	 * @param int    $page          Page, from 1.
	 * @return array<string,mixed>
	 */
	public static function erase( $email_address, $page = 1 ) {
		unset( $page );
		$user_id = self::user_id( $email_address );
		if ( $user_id <= 0 ) {
			return array(
				'items_removed'  => false,
				'items_retained' => false,
				'messages'       => array(),
				'done'           => true,
			);
		}
		$got = Companion::from_settings()->request( 'POST', '/api/privacy/erase', array( 'wp_user_id' => $user_id ) );
		if ( is_wp_error( $got ) ) {
			return array(
				'items_removed'          => false,
				'items_retained'         => true,
				'messages'               => array(
					sprintf(
						/* translators: %s: the reason */
						__( 'The music companion\'s data of this person was NOT erased, and this request stays open: run the erasure again once the companion answers. %s', 'scripthammer' ),
						$got->get_error_message()
					),
				),
				'done'                   => true,
				'scripthammer_failed'    => true,
			);
		}
		$messages = array();
		foreach ( is_array( $got['messages'] ?? null ) ? $got['messages'] : array() as $message ) {
			$messages[] = sanitize_text_field( (string) $message );
		}
		return array(
			'items_removed'  => (int) ( $got['items_removed'] ?? 0 ) > 0,
			'items_retained' => (int) ( $got['items_retained'] ?? 0 ) > 0,
			'messages'       => $messages,
			'done'           => true,
		);
	}

	/**
	 * Keep an erasure request open while the companion's part failed: remembers the outcome of this
	 * plugin's eraser on the request, and when the last eraser finishes with it failed, WordPress's own
	 * completion (wp_privacy_process_personal_data_erasure_page, priority 10) is skipped for this call.
	 *
	 * @param mixed  $response      The eraser's answer.
	 * @param int    $eraser_index  Index of the eraser, from 1.
	 * @param string $email_address The request's address.
	 * @param int    $page          Page.
	 * @param int    $request_id    The request.
	 * @return mixed
	 */
	public static function hold_open_when_failed( $response, $eraser_index, $email_address, $page, $request_id ) {
		unset( $email_address, $page );
		if ( ! is_array( $response ) ) {
			return $response;
		}
		/** This filter is documented in wp-admin/includes/ajax-actions.php */
		$erasers = apply_filters( 'wp_privacy_personal_data_erasers', array() );
		$keys    = array_keys( is_array( $erasers ) ? $erasers : array() );
		$request = (int) $request_id;
		if ( self::KEY === ( $keys[ (int) $eraser_index - 1 ] ?? null ) && $request > 0 ) {
			if ( ! empty( $response['scripthammer_failed'] ) ) {
				update_post_meta( $request, self::FAILED_META, time() );
			} else {
				delete_post_meta( $request, self::FAILED_META );
			}
		}
		$last = count( $keys ) === (int) $eraser_index && ! empty( $response['done'] );
		if ( $last && $request > 0 && get_post_meta( $request, self::FAILED_META, true ) ) {
			remove_filter( 'wp_privacy_personal_data_erasure_page', 'wp_privacy_process_personal_data_erasure_page', 10 );
		}
		return $response;
	}

	/**
	 * The text suggested for the site's privacy policy (Settings → Privacy → Policy Guide).
	 */
	public static function add_policy_content(): void {
		if ( ! function_exists( 'wp_add_privacy_policy_content' ) ) {
			return;
		}
		wp_add_privacy_policy_content( __( 'ScriptHammer music companion', 'scripthammer' ), wp_kses_post( wpautop( self::policy_text(), false ) ) );
	}

	/**
	 * The suggested policy text (plain paragraphs).
	 */
	public static function policy_text(): string {
		$paragraphs = array(
			__( 'The music player on this site is served by the band\'s companion service. When you are signed in, the companion keeps, under your WordPress user number: the name shown with your reactions and comments, when you were first and last seen, what you may hear in full and download (your purchases and subscriptions), the timed reactions and comments you leave on tracks, the browsers you asked to notify you of releases and broadcasts, your votes in live sessions, the apps you signed in with a code, the downloads watermarked for you, the orders the shop told it about, and the numbered editions and algorithm licences you own.', 'scripthammer' ),
			__( 'Listening statistics (plays, seeks, skips, where the player was used) are pseudonymous: each event is stored under a keyed hash of your network address and browser, under a key that changes every day and is deleted after two days. Your address itself is not stored, and the statistics cannot be linked to your account. Browsers that send Do-Not-Track or Global Privacy Control are not counted at all. When this site asks for consent to statistics, nothing is counted until you give it, and withdrawing it stops the counting at once.', 'scripthammer' ),
			__( 'You can ask for an export or the erasure of this data (Tools → Export / Erase Personal Data). Erasure deletes your reactions and comments (a comment the band replied to stays in place as "erased"), live votes, notifications, app sign-ins, watermark records and access rights, and empties your listener record; the shop\'s orders are kept without your user number, and editions and licences you own are kept, as they are your property recorded in the band\'s signed ownership log. Tracks saved for offline listening live only in your browser.', 'scripthammer' ),
		);
		return implode( "\n\n", $paragraphs );
	}
}
