<?php
/**
 * The "Listening" dashboard in wp-admin: for the site, a track or an album, by day, the listening
 * figures; per track the heat map over its waveform; the player-interaction heat map; CSV exports.
 * This site fetches the companion's figures (JSON, the same its API serves) server-side with its signed
 * request (the shared secret never reaches a browser) and hands them to the dashboard script
 * (assets/dashboard/dashboard.js, built from wp-plugin/admin-src with uPlot), which draws the charts and
 * redraws them for another range through the admin-ajax action scripthammer_listening_data (capability
 * and nonce checked). Tables in <details> keep the numbers for screen readers and browsers without
 * script. The CSV passes through an admin-only, nonce-checked admin-post action.
 *
 * @package ScriptHammer
 */

namespace ScriptHammer;

defined( 'ABSPATH' ) || exit;

/**
 * The Listening page and its CSV download.
 */
final class Dashboard {

	public const PAGE        = 'scripthammer-listening';
	public const CSV_ACTION  = 'scripthammer_listening_csv';
	public const DATA_ACTION = 'scripthammer_listening_data';
	public const SCRIPT      = 'scripthammer-listening';
	public const MAX_DAYS    = 366;

	/**
	 * The page's hook suffix (set when the menu is added).
	 *
	 * @var string
	 */
	private static $hook = '';

	/**
	 * Hooks (called once by Plugin).
	 */
	public static function register(): void {
		add_action( 'admin_menu', array( self::class, 'add_menu' ) );
		add_action( 'admin_enqueue_scripts', array( self::class, 'enqueue' ) );
		add_action( 'admin_post_' . self::CSV_ACTION, array( self::class, 'handle_csv' ) );
		add_action( 'wp_ajax_' . self::DATA_ACTION, array( self::class, 'handle_data' ) );
	}

	/**
	 * A built file of the dashboard script and its version (the start of its sha256, from the build's
	 * manifest), or null when the script is not built (scripts/setup.sh builds it).
	 *
	 * @param string $name dashboard.js or dashboard.css.
	 * @return array{0:string,1:string}|null URL and version.
	 */
	public static function asset( string $name ): ?array {
		$dir  = SCRIPTHAMMER_DIR . '/assets/dashboard/';
		$file = $dir . $name;
		if ( ! is_readable( $file ) ) {
			return null;
		}
		$manifest = is_readable( $dir . 'manifest.json' ) ? json_decode( (string) file_get_contents( $dir . 'manifest.json' ), true ) : null; // phpcs:ignore WordPress.WP.AlternativeFunctions.file_get_contents_file_get_contents -- a local file.
		$sha      = is_array( $manifest ) && isset( $manifest[ $name ]['sha256'] ) ? (string) $manifest[ $name ]['sha256'] : (string) hash_file( 'sha256', $file );
		return array( plugins_url( 'assets/dashboard/' . $name, SCRIPTHAMMER_FILE ), substr( $sha, 0, 16 ) );
	}

	/**
	 * The dashboard script and its styles, on the Listening page only (the figures are added by render).
	 *
	 * @param string $hook The admin page's hook suffix.
	 */
	public static function enqueue( string $hook ): void {
		if ( '' === self::$hook || $hook !== self::$hook || ! current_user_can( Roles::CAP_MANAGE ) ) {
			return;
		}
		$js  = self::asset( 'dashboard.js' );
		$css = self::asset( 'dashboard.css' );
		if ( $js ) {
			wp_enqueue_script( self::SCRIPT, $js[0], array(), $js[1], true );
		}
		if ( $css ) {
			wp_enqueue_style( self::SCRIPT, $css[0], array(), $css[1] );
		}
	}

	/**
	 * A top-level "Listening" page for those who manage ScriptHammer.
	 */
	public static function add_menu(): void {
		self::$hook = (string) add_menu_page(
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
		return in_array( $kind, array( 'track', 'album', 'performance' ), true ) && $id > 0 ? array( $kind, $id ) : array( '', 0 );
	}

	/**
	 * The companion path of an item's report (the whole site's when $kind is '').
	 *
	 * @param string $kind   track, album, performance or '' (the site: daily and daily.csv only).
	 * @param int    $id     Companion id.
	 * @param string $report daily, heatmap, daily.csv, heatmap.csv.
	 * @param string $from   First day.
	 * @param string $to     Last day.
	 */
	private static function path( string $kind, int $id, string $report, string $from, string $to ): string {
		$base = '' === $kind ? '/api/analytics/site/' : '/api/analytics/' . $kind . 's/' . $id . '/';
		return $base . $report . '?from=' . rawurlencode( $from ) . '&to=' . rawurlencode( $to );
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
	 * The CSV download link of an item, or of the whole site (nonce-checked by handle_csv).
	 *
	 * @param string $kind track, album or '' (the site).
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
					'item'   => '' === $kind ? 'site' : $kind,
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
	 * Whether a kind of item has a heat map over a waveform (a track, and a performance's recording).
	 *
	 * @param string $kind track, album, performance or ''.
	 */
	private static function has_heatmap( string $kind ): bool {
		return in_array( $kind, array( 'track', 'performance' ), true );
	}

	/**
	 * The figures of a view from the companion (the JSON of its API): the site's by day and the summary;
	 * a track's or a performance's (its released recording's) by day and its heat map (with its waveform
	 * and the controls used); an album's by day.
	 *
	 * @param string $kind track, album, performance or '' (the whole site).
	 * @param int    $id   Companion id.
	 * @param string $from First day.
	 * @param string $to   Last day.
	 * @return array<string,mixed>|\WP_Error
	 */
	public static function data( string $kind, int $id, string $from, string $to ) {
		$companion = Companion::from_settings();
		$daily     = $companion->request( 'GET', self::path( $kind, $id, 'daily', $from, $to ) );
		if ( is_wp_error( $daily ) ) {
			return $daily;
		}
		$out = array(
			'view'  => '' === $kind ? 'site' : $kind,
			'from'  => (string) ( $daily['from'] ?? $from ),
			'to'    => (string) ( $daily['to'] ?? $to ),
			'daily' => $daily,
		);
		if ( self::has_heatmap( $kind ) ) {
			$heat = $companion->request( 'GET', self::path( $kind, $id, 'heatmap', $from, $to ) );
			if ( is_wp_error( $heat ) ) {
				return $heat;
			}
			$out['heatmap'] = $heat;
		}
		if ( '' === $kind ) {
			$summary = $companion->request( 'GET', '/api/analytics/summary?from=' . rawurlencode( $from ) . '&to=' . rawurlencode( $to ) );
			if ( is_wp_error( $summary ) ) {
				return $summary;
			}
			$out['summary'] = $summary;
		}
		return $out;
	}

	/**
	 * The admin-ajax route the dashboard redraws from (GET, with the page's nonce): the figures of a view
	 * for another range, for those who manage ScriptHammer only. Errors in the API's one shape.
	 */
	public static function handle_data(): void {
		if ( ! current_user_can( Roles::CAP_MANAGE ) ) {
			self::json_error( 403, 'forbidden', __( 'Only those who manage ScriptHammer may see the listening figures.', 'scripthammer' ) );
		}
		if ( false === check_ajax_referer( self::DATA_ACTION, '_ajax_nonce', false ) ) {
			self::json_error( 403, 'bad_nonce', __( 'The page has expired: reload it.', 'scripthammer' ) );
		}
		list( $from, $to ) = self::range();
		list( $kind, $id ) = self::item();
		// phpcs:ignore WordPress.Security.NonceVerification.Recommended -- checked above.
		if ( '' === $kind && ! empty( $_GET['item'] ) ) {
			self::json_error( 400, 'bad_item', __( 'Which figures? That item does not exist.', 'scripthammer' ) );
		}
		$data = self::data( $kind, $id, $from, $to );
		if ( is_wp_error( $data ) ) {
			$err    = $data->get_error_data();
			$status = is_array( $err ) && 404 === ( $err['status'] ?? 0 ) ? 404 : 502;
			self::json_error( $status, 404 === $status ? 'not_found' : 'companion_unavailable', $data->get_error_message() );
		}
		nocache_headers();
		wp_send_json( $data, 200 );
	}

	/**
	 * Ends the request with the one error shape {status, code, message, details}.
	 *
	 * @param int    $status  HTTP status.
	 * @param string $code    Error code.
	 * @param string $message For people.
	 */
	private static function json_error( int $status, string $code, string $message ): void {
		wp_send_json(
			array(
				'status'  => $status,
				'code'    => $code,
				'message' => $message,
				'details' => new \stdClass(),
			),
			$status
		);
	}

	/**
	 * The chart and series names the script shows (translated here).
	 *
	 * @return array<string,string>
	 */
	private static function labels(): array {
		return array(
			'chart_plays'        => __( 'Plays and unique listeners per day', 'scripthammer' ),
			'chart_completion'   => __( 'Completion and skips per day', 'scripthammer' ),
			'chart_listened'     => __( 'Average listened seconds per day', 'scripthammer' ),
			'chart_downloads'    => __( 'Downloads by format and tip-jar clicks per day', 'scripthammer' ),
			'chart_sales'        => __( 'Tips and purchases attributed to a play per day', 'scripthammer' ),
			'chart_heatmap'      => __( 'Where listeners start, seek, replay, drop off and react, over the waveform', 'scripthammer' ),
			'chart_interactions' => __( 'Player controls used', 'scripthammer' ),
			'day'                => __( 'Day', 'scripthammer' ),
			'plays'              => __( 'Plays', 'scripthammer' ),
			'plays_30s'          => __( 'Past 30 s', 'scripthammer' ),
			'listeners'          => __( 'Listeners', 'scripthammer' ),
			'completion'         => __( 'Completion', 'scripthammer' ),
			'skips'              => __( 'Skips', 'scripthammer' ),
			'avg_listened_s'     => __( 'Average listened', 'scripthammer' ),
			'downloads'          => __( 'Downloads', 'scripthammer' ),
			'tips'               => __( 'Tips', 'scripthammer' ),
			'tip_clicks'         => __( 'Tip-jar clicks', 'scripthammer' ),
			'purchases'          => __( 'Purchases', 'scripthammer' ),
			'tips_amount'        => __( 'Tipped', 'scripthammer' ),
			'purchases_amount'   => __( 'Spent', 'scripthammer' ),
			'amount'             => __( 'Amount', 'scripthammer' ),
			'count'              => __( 'Count', 'scripthammer' ),
			'seconds'            => __( 'Seconds', 'scripthammer' ),
			'second'             => __( 'Second', 'scripthammer' ),
			'position'           => __( 'Position in the track', 'scripthammer' ),
			'starts'             => __( 'Starts', 'scripthammer' ),
			'seeks'              => __( 'Seeks to', 'scripthammer' ),
			'replays'            => __( 'Replays', 'scripthammer' ),
			'dropoffs'           => __( 'Drop-offs', 'scripthammer' ),
			'reactions'          => __( 'Reactions', 'scripthammer' ),
			'control'            => __( 'Control', 'scripthammer' ),
			'uses'               => __( 'Uses', 'scripthammer' ),
			'none'               => __( 'No player controls were used in this range.', 'scripthammer' ),
			'loading'            => __( 'Loading the figures…', 'scripthammer' ),
			/* translators: 1: first day, 2: last day */
			'shown'              => __( 'Showing %1$s to %2$s.', 'scripthammer' ),
			'failed'             => __( 'The figures could not be loaded:', 'scripthammer' ),
		);
	}

	/**
	 * The page: the range form, then the site's or one item's charts and figures.
	 */
	public static function render(): void {
		if ( ! current_user_can( Roles::CAP_MANAGE ) ) {
			wp_die( esc_html__( 'Only those who manage ScriptHammer may see the listening figures.', 'scripthammer' ), 403 );
		}
		list( $from, $to ) = self::range();
		list( $kind, $id ) = self::item();
		$data              = self::data( $kind, $id, $from, $to );
		echo '<div class="wrap scripthammer-listening">';
		$title = is_array( $data ) && '' !== $kind ? (string) ( $data['daily']['title'] ?? '' ) : '';
		echo '<h1>' . esc_html__( 'Listening', 'scripthammer' ) . ( '' !== $title ? ': <span class="scripthammer-item-title">' . esc_html( $title ) . '</span>' : '' ) . '</h1>';
		self::range_form( $from, $to, $kind, $id );
		echo '<p id="scripthammer-status" class="description" role="status" aria-live="polite"></p>';
		if ( '' !== $kind ) {
			echo '<p><a href="' . esc_url( self::url( array( 'from' => $from, 'to' => $to ) ) ) . '">← ' . esc_html__( 'The whole site', 'scripthammer' ) . '</a></p>';
		}
		if ( is_wp_error( $data ) ) {
			echo '<div class="notice notice-error"><p>' . esc_html( $data->get_error_message() ) . '</p></div></div>';
			return;
		}
		self::exports( $kind, $id, $from, $to );
		if ( null === self::asset( 'dashboard.js' ) ) {
			echo '<div class="notice notice-warning inline"><p>' . esc_html__( 'The charts are not built (run scripts/setup.sh, or npm run build in wp-plugin/admin-src): the figures are in the tables below.', 'scripthammer' ) . '</p></div>';
		} else {
			echo '<div id="scripthammer-charts" class="scripthammer-charts" aria-label="' . esc_attr__( 'Charts of the figures below', 'scripthammer' ) . '"></div>';
			$cfg = array(
				'view'   => $data['view'],
				'item'   => '' === $kind ? null : array(
					'kind' => $kind,
					'id'   => $id,
				),
				'ajax'   => array(
					'url'    => admin_url( 'admin-ajax.php' ),
					'action' => self::DATA_ACTION,
					'nonce'  => wp_create_nonce( self::DATA_ACTION ),
				),
				'labels' => self::labels(),
				'data'   => $data,
			);
			// JSON_HEX_*: no "</script>", quote or ampersand from a title can close the script or the tag.
			wp_add_inline_script( self::SCRIPT, 'window.scripthammerListening = ' . wp_json_encode( $cfg, JSON_HEX_TAG | JSON_HEX_AMP | JSON_HEX_APOS | JSON_HEX_QUOT ) . ';', 'before' );
		}
		self::days_table( (array) ( $data['daily']['days'] ?? array() ) );
		if ( self::has_heatmap( $kind ) ) {
			self::heat_table( (array) $data['heatmap'] );
		}
		self::interactions_table( (array) ( $data['daily']['interactions'] ?? array() ) );
		if ( '' === $kind ) {
			self::summary_tables( (array) $data['summary'], $from, $to );
		}
		echo '<p class="description">' . esc_html__( 'Days are UTC. Listeners are pseudonymous and change every day: a total of listeners over several days adds up each day\'s unique listeners.', 'scripthammer' ) . '</p>';
		echo '</div>';
	}

	/**
	 * The date range form and the quick ranges (links that work without script; the script redraws
	 * in place).
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
			echo ' <a class="button-link scripthammer-preset" data-days="' . esc_attr( (string) $days ) . '" data-from="' . esc_attr( $args['from'] ) . '" data-to="' . esc_attr( $today ) . '" href="' . esc_url( self::url( $args ) ) . '">' . esc_html( sprintf( __( 'last %d days', 'scripthammer' ), $days ) ) . '</a>';
		}
		echo '</form>';
	}

	/**
	 * The CSV downloads of the view.
	 *
	 * @param string $kind track, album or ''.
	 * @param int    $id   Item id.
	 * @param string $from First day.
	 * @param string $to   Last day.
	 */
	private static function exports( string $kind, int $id, string $from, string $to ): void {
		echo '<p class="scripthammer-exports"><a class="button" id="scripthammer-csv-daily" href="' . esc_url( self::csv_url( $kind, $id, 'daily', $from, $to ) ) . '">' . esc_html__( 'Download the figures by day (CSV)', 'scripthammer' ) . '</a>';
		if ( self::has_heatmap( $kind ) ) {
			echo ' <a class="button" id="scripthammer-csv-heatmap" href="' . esc_url( self::csv_url( $kind, $id, 'heatmap', $from, $to ) ) . '">' . esc_html__( 'Download the heat map per second (CSV)', 'scripthammer' ) . '</a>';
		}
		echo '</p>';
	}

	/**
	 * The figures by day as a table (in <details>: open without script, the charts draw them).
	 *
	 * @param array<int,array<string,mixed>> $days The rows of the daily answer.
	 */
	private static function days_table( array $days ): void {
		$cols = array(
			'day'              => __( 'Day', 'scripthammer' ),
			'plays'            => __( 'Plays', 'scripthammer' ),
			'plays_30s'        => __( 'Past 30 s', 'scripthammer' ),
			'listeners'        => __( 'Listeners', 'scripthammer' ),
			'completions'      => __( 'Completions', 'scripthammer' ),
			'completion_rate'  => __( 'Completion', 'scripthammer' ),
			'skips'            => __( 'Skips', 'scripthammer' ),
			'avg_listened_s'   => __( 'Average listened', 'scripthammer' ),
			'tip_clicks'       => __( 'Tip-jar clicks', 'scripthammer' ),
			'tips'             => __( 'Tips', 'scripthammer' ),
			'tips_amount'      => __( 'Tipped', 'scripthammer' ),
			'purchases'        => __( 'Purchases', 'scripthammer' ),
			'purchases_amount' => __( 'Spent', 'scripthammer' ),
			'downloads'        => __( 'Downloads', 'scripthammer' ),
		);
		echo '<details class="scripthammer-figures" id="scripthammer-figures" open><summary>' . esc_html__( 'The figures by day (table)', 'scripthammer' ) . '</summary>';
		echo '<table class="widefat striped" id="scripthammer-days"><thead><tr>';
		foreach ( $cols as $col => $label ) {
			echo '<th scope="col" data-col="' . esc_attr( $col ) . '">' . esc_html( $label ) . '</th>';
		}
		echo '</tr></thead><tbody>';
		foreach ( array_reverse( $days ) as $row ) {
			echo '<tr>';
			foreach ( array_keys( $cols ) as $col ) {
				$value = $row[ $col ] ?? null;
				echo '<td class="col-' . esc_attr( $col ) . '">' . esc_html( 'day' === $col ? (string) $value : self::figure( $col, $value ) ) . '</td>';
			}
			echo '</tr>';
		}
		echo '</tbody></table></details>';
	}

	/**
	 * The heat map as a table: one row per second of the track where listeners did anything.
	 *
	 * @param array<string,mixed> $heat The heat map answer.
	 */
	private static function heat_table( array $heat ): void {
		$kinds = array(
			'starts'    => __( 'Starts', 'scripthammer' ),
			'seeks'     => __( 'Seeks to', 'scripthammer' ),
			'replays'   => __( 'Replays', 'scripthammer' ),
			'dropoffs'  => __( 'Drop-offs', 'scripthammer' ),
			'reactions' => __( 'Reactions', 'scripthammer' ),
		);
		echo '<details class="scripthammer-figures" id="scripthammer-heat" open><summary>' . esc_html__( 'Where listeners start, seek, replay, drop off and react, per second (table)', 'scripthammer' ) . '</summary>';
		echo '<table class="widefat striped" id="scripthammer-heat-table"><thead><tr><th scope="col">' . esc_html__( 'Second', 'scripthammer' ) . '</th>';
		foreach ( $kinds as $label ) {
			echo '<th scope="col">' . esc_html( $label ) . '</th>';
		}
		echo '</tr></thead><tbody>';
		$seconds = (int) ( $heat['seconds'] ?? 0 );
		for ( $i = 0; $i < $seconds; $i++ ) {
			$row = array();
			foreach ( array_keys( $kinds ) as $k ) {
				$row[ $k ] = (int) ( $heat[ $k ][ $i ] ?? 0 );
			}
			if ( ! array_filter( $row ) ) {
				continue;
			}
			echo '<tr><td class="col-second">' . esc_html( (string) $i ) . '</td>';
			foreach ( $row as $k => $v ) {
				echo '<td class="col-' . esc_attr( $k ) . '">' . esc_html( (string) $v ) . '</td>';
			}
			echo '</tr>';
		}
		echo '</tbody></table></details>';
	}

	/**
	 * The player controls used as a table.
	 *
	 * @param array<string,int> $counts Uses per control.
	 */
	private static function interactions_table( array $counts ): void {
		uksort(
			$counts,
			static function ( $a, $b ) use ( $counts ) {
				return ( $counts[ $b ] <=> $counts[ $a ] ) ?: strcmp( (string) $a, (string) $b );
			}
		);
		echo '<details class="scripthammer-figures" id="scripthammer-interactions" open><summary>' . esc_html__( 'Player controls used (table)', 'scripthammer' ) . '</summary>';
		echo '<table class="widefat striped" id="scripthammer-interactions-table"><thead><tr><th scope="col">' . esc_html__( 'Control', 'scripthammer' ) . '</th><th scope="col">' . esc_html__( 'Uses', 'scripthammer' ) . '</th></tr></thead><tbody>';
		foreach ( $counts as $control => $n ) {
			echo '<tr><td class="col-control">' . esc_html( (string) $control ) . '</td><td class="col-uses">' . esc_html( (string) (int) $n ) . '</td></tr>';
		}
		echo '</tbody></table></details>';
	}

	/**
	 * A table of every track and album with its totals, a link to its page and its CSV.
	 *
	 * @param array<string,mixed> $summary The summary answer.
	 * @param string              $from    First day.
	 * @param string              $to      Last day.
	 */
	private static function summary_tables( array $summary, string $from, string $to ): void {
		$headings = array(
			'track'       => __( 'Tracks', 'scripthammer' ),
			'album'       => __( 'Albums', 'scripthammer' ),
			'performance' => __( 'Performances (their released recordings)', 'scripthammer' ),
		);
		foreach ( $headings as $kind => $heading ) {
			$key = $kind . 's';
			echo '<h2>' . esc_html( $heading ) . '</h2>';
			echo '<table class="widefat striped scripthammer-summary" id="scripthammer-' . esc_attr( $key ) . '"><thead><tr>';
			foreach ( self::summary_columns() as $label ) {
				echo '<th scope="col">' . esc_html( $label ) . '</th>';
			}
			echo '</tr></thead><tbody>';
			foreach ( (array) ( $summary[ $key ] ?? array() ) as $row ) {
				$id = (int) $row['id'];
				echo '<tr data-id="' . esc_attr( (string) $id ) . '"><td><a href="' . esc_url( self::url( array( 'item' => $kind, 'id' => $id, 'from' => $from, 'to' => $to ) ) ) . '">' . esc_html( (string) $row['title'] ) . '</a></td>';
				foreach ( array( 'plays', 'plays_30s', 'listeners', 'completion_rate', 'skips', 'tips', 'purchases', 'downloads' ) as $col ) {
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
			__( 'Purchases', 'scripthammer' ),
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
		if ( in_array( $col, array( 'tips_amount', 'purchases_amount' ), true ) && is_array( $value ) ) {
			ksort( $value );
			$parts = array();
			foreach ( $value as $currency => $amount ) {
				$parts[] = $currency . ' ' . number_format_i18n( (float) $amount, 2 );
			}
			return $parts ? implode( ', ', $parts ) : '0';
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
		// phpcs:ignore WordPress.Security.NonceVerification.Recommended -- checked above.
		$site = isset( $_GET['item'] ) && 'site' === sanitize_key( wp_unslash( $_GET['item'] ) );
		if ( ( '' === $kind && ! $site ) || ! in_array( $what, array( 'daily', 'heatmap' ), true ) || ( 'heatmap' === $what && ! self::has_heatmap( $kind ) ) ) {
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
		$name = '' === $kind ? 'site' : $kind . '-' . $id;
		header( 'Content-Disposition: attachment; filename="scripthammer-' . $name . '-' . $what . '-' . $from . '-' . $to . '.csv"' );
		header( 'X-Content-Type-Options: nosniff' );
		echo $csv; // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- a CSV file, not HTML.
		exit;
	}
}
