<?php
/**
 * The "Listening" dashboard in wp-admin: per track and album, by day, the listening figures, and per
 * track the heat map over its waveform; CSV exports. The companion draws the charts (SVG) and makes the
 * CSV; this site fetches them server-side with its signed request (the shared secret never reaches a
 * browser), inlines the SVG after sanitising it, and passes the CSV through an admin-only, nonce-checked
 * admin-post action.
 *
 * @package ScriptHammer
 */

namespace ScriptHammer;

defined( 'ABSPATH' ) || exit;

/**
 * The Listening page and its CSV download.
 */
final class Dashboard {

	public const PAGE       = 'scripthammer-listening';
	public const CSV_ACTION = 'scripthammer_listening_csv';
	public const MAX_DAYS   = 366;

	/**
	 * Hooks (called once by Plugin).
	 */
	public static function register(): void {
		add_action( 'admin_menu', array( self::class, 'add_menu' ) );
		add_action( 'admin_post_' . self::CSV_ACTION, array( self::class, 'handle_csv' ) );
	}

	/**
	 * A top-level "Listening" page for those who manage ScriptHammer.
	 */
	public static function add_menu(): void {
		add_menu_page(
			__( 'Listening', 'scripthammer' ),
			__( 'Listening', 'scripthammer' ),
			Roles::CAP_MANAGE,
			self::PAGE,
			array( self::class, 'render' ),
			'dashicons-chart-area',
			26
		);
	}

	/**
	 * A Y-m-d date from the query, or null.
	 *
	 * @param mixed $value Raw value.
	 */
	private static function ymd( $value ): ?string {
		$value = is_string( $value ) ? trim( wp_unslash( $value ) ) : '';
		if ( ! preg_match( '/^(\d{4})-(\d{2})-(\d{2})$/', $value, $m ) || ! checkdate( (int) $m[2], (int) $m[3], (int) $m[1] ) ) {
			return null;
		}
		return $value;
	}

	/**
	 * The range asked for (UTC days): default the last 30 days; a reversed or too long range is mended.
	 *
	 * @return array{0:string,1:string}
	 */
	public static function range(): array {
		// phpcs:disable WordPress.Security.NonceVerification.Recommended -- reading a range to show, nothing changes.
		$to   = self::ymd( $_GET['to'] ?? '' ) ?? gmdate( 'Y-m-d' );
		$from = self::ymd( $_GET['from'] ?? '' ) ?? gmdate( 'Y-m-d', strtotime( $to . ' -29 days' ) );
		// phpcs:enable
		if ( $from > $to ) {
			list( $from, $to ) = array( $to, $from );
		}
		$earliest = gmdate( 'Y-m-d', strtotime( $to . ' -' . ( self::MAX_DAYS - 1 ) . ' days' ) );
		return array( max( $from, $earliest ), $to );
	}

	/**
	 * The item asked for: ['track'|'album'|'', id].
	 *
	 * @return array{0:string,1:int}
	 */
	private static function item(): array {
		// phpcs:disable WordPress.Security.NonceVerification.Recommended -- reading what to show.
		$kind = isset( $_GET['item'] ) ? sanitize_key( wp_unslash( $_GET['item'] ) ) : '';
		$id   = isset( $_GET['id'] ) ? absint( $_GET['id'] ) : 0;
		// phpcs:enable
		return in_array( $kind, array( 'track', 'album' ), true ) && $id > 0 ? array( $kind, $id ) : array( '', 0 );
	}

	/**
	 * The companion path of an item's report.
	 *
	 * @param string $kind   track or album.
	 * @param int    $id     Companion id.
	 * @param string $report daily, heatmap, daily.svg, heatmap.svg, daily.csv, heatmap.csv.
	 * @param string $from   First day.
	 * @param string $to     Last day.
	 */
	private static function path( string $kind, int $id, string $report, string $from, string $to ): string {
		return '/api/analytics/' . ( 'album' === $kind ? 'albums' : 'tracks' ) . '/' . $id . '/' . $report
			. '?from=' . rawurlencode( $from ) . '&to=' . rawurlencode( $to );
	}

	/**
	 * A page URL of this dashboard.
	 *
	 * @param array<string,mixed> $args Query arguments.
	 */
	private static function url( array $args ): string {
		return add_query_arg( array_merge( array( 'page' => self::PAGE ), $args ), admin_url( 'admin.php' ) );
	}

	/**
	 * The CSV download link of an item (nonce-checked by handle_csv).
	 *
	 * @param string $kind track or album.
	 * @param int    $id   Companion id.
	 * @param string $what daily or heatmap.
	 * @param string $from First day.
	 * @param string $to   Last day.
	 */
	public static function csv_url( string $kind, int $id, string $what, string $from, string $to ): string {
		return wp_nonce_url(
			add_query_arg(
				array(
					'action' => self::CSV_ACTION,
					'item'   => $kind,
					'id'     => $id,
					'what'   => $what,
					'from'   => $from,
					'to'     => $to,
				),
				admin_url( 'admin-post.php' )
			),
			self::CSV_ACTION
		);
	}

	/**
	 * What an inlined chart may contain: the SVG elements and attributes the companion draws with, and
	 * nothing that runs (no script, no event handler, no foreign object, no links).
	 *
	 * @return array<string,array<string,bool>>
	 */
	public static function svg_allowed(): array {
		$common = array(
			'class'        => true,
			'data-*'       => true,
			'fill'         => true,
			'fill-opacity' => true,
			'stroke'       => true,
			'stroke-width' => true,
		);
		return array(
			'svg'      => $common + array(
				'xmlns'      => true,
				'viewbox'    => true,
				'width'      => true,
				'height'     => true,
				'role'       => true,
				'aria-label' => true,
			),
			'title'    => array(),
			'g'        => $common,
			'rect'     => $common + array(
				'x'      => true,
				'y'      => true,
				'width'  => true,
				'height' => true,
			),
			'circle'   => $common + array(
				'cx' => true,
				'cy' => true,
				'r'  => true,
			),
			'path'     => $common + array( 'd' => true ),
			'polyline' => $common + array( 'points' => true ),
			'line'     => $common + array(
				'x1' => true,
				'y1' => true,
				'x2' => true,
				'y2' => true,
			),
			'text'     => $common + array(
				'x'           => true,
				'y'           => true,
				'font-family' => true,
				'font-size'   => true,
				'font-weight' => true,
				'text-anchor' => true,
			),
		);
	}

	/**
	 * A chart from the companion, sanitised, or a notice saying why there is none.
	 *
	 * @param string $path The companion path of the SVG.
	 * @param string $id   The HTML id of the figure.
	 */
	private static function chart( string $path, string $id ): void {
		$svg = Companion::from_settings()->fetch_text( $path, 'image/svg+xml' );
		echo '<figure class="scripthammer-chart" id="' . esc_attr( $id ) . '" style="margin:1em 0;max-width:100%;overflow-x:auto">';
		if ( is_wp_error( $svg ) ) {
			echo '<div class="notice notice-error inline"><p>' . esc_html( $svg->get_error_message() ) . '</p></div>';
		} else {
			echo wp_kses( $svg, self::svg_allowed() );
		}
		echo '</figure>';
	}

	/**
	 * The page: the range form, then the overview or one item.
	 */
	public static function render(): void {
		if ( ! current_user_can( Roles::CAP_MANAGE ) ) {
			wp_die( esc_html__( 'Only those who manage ScriptHammer may see the listening figures.', 'scripthammer' ), 403 );
		}
		list( $from, $to ) = self::range();
		list( $kind, $id ) = self::item();
		echo '<div class="wrap scripthammer-listening">';
		echo '<h1>' . esc_html__( 'Listening', 'scripthammer' ) . '</h1>';
		self::range_form( $from, $to, $kind, $id );
		if ( '' === $kind ) {
			self::overview( $from, $to );
		} else {
			self::item_page( $kind, $id, $from, $to );
		}
		echo '<p class="description">' . esc_html__( 'Days are UTC. Listeners are pseudonymous and change every day: a total of listeners over several days adds up each day\'s unique listeners.', 'scripthammer' ) . '</p>';
		echo '</div>';
	}

	/**
	 * The date range form and the quick ranges.
	 *
	 * @param string $from First day.
	 * @param string $to   Last day.
	 * @param string $kind Item kind or ''.
	 * @param int    $id   Item id.
	 */
	private static function range_form( string $from, string $to, string $kind, int $id ): void {
		echo '<form method="get" id="scripthammer-range" style="margin:1em 0">';
		echo '<input type="hidden" name="page" value="' . esc_attr( self::PAGE ) . '">';
		if ( '' !== $kind ) {
			echo '<input type="hidden" name="item" value="' . esc_attr( $kind ) . '"><input type="hidden" name="id" value="' . esc_attr( (string) $id ) . '">';
		}
		echo '<label>' . esc_html__( 'From', 'scripthammer' ) . ' <input type="date" name="from" value="' . esc_attr( $from ) . '"></label> ';
		echo '<label>' . esc_html__( 'to', 'scripthammer' ) . ' <input type="date" name="to" value="' . esc_attr( $to ) . '"></label> ';
		submit_button( __( 'Show', 'scripthammer' ), 'secondary', '', false );
		$today = gmdate( 'Y-m-d' );
		foreach ( array( 7, 30, 90 ) as $days ) {
			$args = array(
				'from' => gmdate( 'Y-m-d', strtotime( $today . ' -' . ( $days - 1 ) . ' days' ) ),
				'to'   => $today,
			);
			if ( '' !== $kind ) {
				$args += array(
					'item' => $kind,
					'id'   => $id,
				);
			}
			/* translators: %d: number of days */
			echo ' <a class="button-link" href="' . esc_url( self::url( $args ) ) . '">' . esc_html( sprintf( __( 'last %d days', 'scripthammer' ), $days ) ) . '</a>';
		}
		echo '</form>';
	}

	/**
	 * Every album's chart, and a table of every track and album with links to their pages.
	 *
	 * @param string $from First day.
	 * @param string $to   Last day.
	 */
	private static function overview( string $from, string $to ): void {
		$summary = Companion::from_settings()->request( 'GET', '/api/analytics/summary?from=' . rawurlencode( $from ) . '&to=' . rawurlencode( $to ) );
		if ( is_wp_error( $summary ) ) {
			echo '<div class="notice notice-error"><p>' . esc_html( $summary->get_error_message() ) . '</p></div>';
			return;
		}
		foreach ( array_slice( (array) ( $summary['albums'] ?? array() ), 0, 6 ) as $album ) {
			if ( ! empty( $album['track_ids'] ) ) {
				self::chart( self::path( 'album', (int) $album['id'], 'daily.svg', $from, $to ), 'scripthammer-album-chart-' . (int) $album['id'] );
			}
		}
		foreach ( array( 'track' => 'tracks', 'album' => 'albums' ) as $kind => $key ) {
			echo '<h2>' . esc_html( 'track' === $kind ? __( 'Tracks', 'scripthammer' ) : __( 'Albums', 'scripthammer' ) ) . '</h2>';
			echo '<table class="widefat striped scripthammer-summary" id="scripthammer-' . esc_attr( $key ) . '"><thead><tr>';
			foreach ( self::summary_columns() as $label ) {
				echo '<th>' . esc_html( $label ) . '</th>';
			}
			echo '</tr></thead><tbody>';
			foreach ( (array) ( $summary[ $key ] ?? array() ) as $row ) {
				$id = (int) $row['id'];
				echo '<tr data-id="' . esc_attr( (string) $id ) . '"><td><a href="' . esc_url( self::url( array( 'item' => $kind, 'id' => $id, 'from' => $from, 'to' => $to ) ) ) . '">' . esc_html( (string) $row['title'] ) . '</a></td>';
				foreach ( array( 'plays', 'plays_30s', 'listeners', 'completion_rate', 'skips', 'tips', 'downloads' ) as $col ) {
					echo '<td class="col-' . esc_attr( $col ) . '">' . esc_html( self::figure( $col, $row[ $col ] ?? null ) ) . '</td>';
				}
				echo '<td><a href="' . esc_url( self::csv_url( $kind, $id, 'daily', $from, $to ) ) . '">' . esc_html__( 'CSV', 'scripthammer' ) . '</a></td></tr>';
			}
			echo '</tbody></table>';
		}
	}

	/**
	 * The overview table's headers.
	 *
	 * @return string[]
	 */
	private static function summary_columns(): array {
		return array(
			__( 'Title', 'scripthammer' ),
			__( 'Plays', 'scripthammer' ),
			__( 'Past 30 s', 'scripthammer' ),
			__( 'Listeners', 'scripthammer' ),
			__( 'Completion', 'scripthammer' ),
			__( 'Skips', 'scripthammer' ),
			__( 'Tips', 'scripthammer' ),
			__( 'Downloads', 'scripthammer' ),
			__( 'Export', 'scripthammer' ),
		);
	}

	/**
	 * One figure as shown.
	 *
	 * @param string $col   Column.
	 * @param mixed  $value Value.
	 */
	private static function figure( string $col, $value ): string {
		if ( null === $value ) {
			return '–';
		}
		if ( 'completion_rate' === $col ) {
			return number_format_i18n( 100 * (float) $value, 1 ) . ' %';
		}
		if ( 'avg_listened_s' === $col ) {
			return number_format_i18n( (float) $value, 1 ) . ' s';
		}
		if ( 'downloads' === $col && is_array( $value ) ) {
			$parts = array();
			foreach ( $value as $format => $n ) {
				$parts[] = $format . ' ' . (int) $n;
			}
			return $parts ? implode( ', ', $parts ) : '0';
		}
		return number_format_i18n( (float) $value );
	}

	/**
	 * One track's or album's page: its charts, its figures by day, its CSV.
	 *
	 * @param string $kind track or album.
	 * @param int    $id   Companion id.
	 * @param string $from First day.
	 * @param string $to   Last day.
	 */
	private static function item_page( string $kind, int $id, string $from, string $to ): void {
		$daily = Companion::from_settings()->request( 'GET', self::path( $kind, $id, 'daily', $from, $to ) );
		echo '<p><a href="' . esc_url( self::url( array( 'from' => $from, 'to' => $to ) ) ) . '">← ' . esc_html__( 'All tracks and albums', 'scripthammer' ) . '</a></p>';
		if ( is_wp_error( $daily ) ) {
			echo '<div class="notice notice-error"><p>' . esc_html( $daily->get_error_message() ) . '</p></div>';
			return;
		}
		echo '<p class="scripthammer-exports"><a class="button" id="scripthammer-csv-daily" href="' . esc_url( self::csv_url( $kind, $id, 'daily', $from, $to ) ) . '">' . esc_html__( 'Download the figures by day (CSV)', 'scripthammer' ) . '</a>';
		if ( 'track' === $kind ) {
			echo ' <a class="button" id="scripthammer-csv-heatmap" href="' . esc_url( self::csv_url( $kind, $id, 'heatmap', $from, $to ) ) . '">' . esc_html__( 'Download the heat map per second (CSV)', 'scripthammer' ) . '</a>';
		}
		echo '</p>';
		self::chart( self::path( $kind, $id, 'daily.svg', $from, $to ), 'scripthammer-daily-chart' );
		if ( 'track' === $kind ) {
			echo '<h2>' . esc_html__( 'Where listeners start, seek, replay, drop off and react', 'scripthammer' ) . '</h2>';
			self::chart( self::path( $kind, $id, 'heatmap.svg', $from, $to ), 'scripthammer-heatmap' );
		}
		echo '<h2>' . esc_html__( 'By day', 'scripthammer' ) . '</h2>';
		$cols = array(
			'day'             => __( 'Day', 'scripthammer' ),
			'plays'           => __( 'Plays', 'scripthammer' ),
			'plays_30s'       => __( 'Past 30 s', 'scripthammer' ),
			'listeners'       => __( 'Listeners', 'scripthammer' ),
			'completions'     => __( 'Completions', 'scripthammer' ),
			'completion_rate' => __( 'Completion', 'scripthammer' ),
			'skips'           => __( 'Skips', 'scripthammer' ),
			'avg_listened_s'  => __( 'Average listened', 'scripthammer' ),
			'tips'            => __( 'Tips', 'scripthammer' ),
			'downloads'       => __( 'Downloads', 'scripthammer' ),
		);
		echo '<table class="widefat striped" id="scripthammer-days"><thead><tr>';
		foreach ( $cols as $label ) {
			echo '<th>' . esc_html( $label ) . '</th>';
		}
		echo '</tr></thead><tbody>';
		foreach ( array_reverse( (array) ( $daily['days'] ?? array() ) ) as $row ) {
			echo '<tr>';
			foreach ( array_keys( $cols ) as $col ) {
				$value = $row[ $col ] ?? null;
				echo '<td class="col-' . esc_attr( $col ) . '">' . esc_html( 'day' === $col ? (string) $value : self::figure( $col, $value ) ) . '</td>';
			}
			echo '</tr>';
		}
		echo '</tbody></table>';
	}

	/**
	 * The CSV download: for those who manage ScriptHammer, with the link's nonce; fetched from the
	 * companion with this site's signature and passed on.
	 */
	public static function handle_csv(): void {
		if ( ! current_user_can( Roles::CAP_MANAGE ) ) {
			wp_die( esc_html__( 'Only those who manage ScriptHammer may export the listening figures.', 'scripthammer' ), 403 );
		}
		check_admin_referer( self::CSV_ACTION );
		list( $kind, $id ) = self::item();
		// phpcs:ignore WordPress.Security.NonceVerification.Recommended -- checked above.
		$what = isset( $_GET['what'] ) ? sanitize_key( wp_unslash( $_GET['what'] ) ) : 'daily';
		if ( '' === $kind || ! in_array( $what, array( 'daily', 'heatmap' ), true ) || ( 'heatmap' === $what && 'track' !== $kind ) ) {
			wp_die( esc_html__( 'Which figures? That export does not exist.', 'scripthammer' ), 400 );
		}
		list( $from, $to ) = self::range();
		$csv = Companion::from_settings()->fetch_text( self::path( $kind, $id, $what . '.csv', $from, $to ), 'text/csv' );
		if ( is_wp_error( $csv ) ) {
			$data = $csv->get_error_data();
			wp_die( esc_html( $csv->get_error_message() ), is_array( $data ) && 404 === ( $data['status'] ?? 0 ) ? 404 : 502 );
		}
		nocache_headers();
		header( 'Content-Type: text/csv; charset=utf-8' );
		header( 'Content-Disposition: attachment; filename="scripthammer-' . $kind . '-' . $id . '-' . $what . '-' . $from . '-' . $to . '.csv"' );
		header( 'X-Content-Type-Options: nosniff' );
		echo $csv; // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- a CSV file, not HTML.
		exit;
	}
}
