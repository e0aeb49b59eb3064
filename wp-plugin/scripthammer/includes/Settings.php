<?php
/**
 * The plugin's settings (one option) and the settings page with "test connection".
 *
 * @package ScriptHammer
 */

namespace ScriptHammer;

defined( 'ABSPATH' ) || exit;

/**
 * Settings: companion URL, shared secret, tip limits, subscription price.
 */
final class Settings {

	public const OPTION      = 'scripthammer_settings';
	public const PAGE        = 'scripthammer';
	public const TEST_ACTION = 'scripthammer_test_connection';

	/**
	 * Defaults for every setting.
	 *
	 * @return array<string,mixed>
	 */
	public static function defaults(): array {
		return array(
			'companion_url'      => '',
			'companion_public'   => '',
			'shared_secret'      => '',
			'tip_min'            => 2,
			'tip_max'            => 500,
			'subscription_price' => 5,
			'membership_days'    => 365,
		);
	}

	/**
	 * All settings, with defaults filled in. Constants in wp-config.php win (SCRIPTHAMMER_COMPANION_URL,
	 * SCRIPTHAMMER_SHARED_SECRET), so secrets can stay out of the database.
	 *
	 * @return array<string,mixed>
	 */
	public static function all(): array {
		$stored = get_option( self::OPTION, array() );
		$values = array_merge( self::defaults(), is_array( $stored ) ? $stored : array() );
		if ( defined( 'SCRIPTHAMMER_COMPANION_URL' ) ) {
			$values['companion_url'] = (string) constant( 'SCRIPTHAMMER_COMPANION_URL' );
		}
		if ( defined( 'SCRIPTHAMMER_SHARED_SECRET' ) ) {
			$values['shared_secret'] = (string) constant( 'SCRIPTHAMMER_SHARED_SECRET' );
		}
		return $values;
	}

	/**
	 * One setting.
	 *
	 * @param string $key The setting's name.
	 * @return mixed
	 */
	public static function get( string $key ) {
		$all = self::all();
		return $all[ $key ] ?? null;
	}

	/**
	 * The companion's base URL as the server reaches it (no trailing slash).
	 */
	public static function companion_url(): string {
		return untrailingslashit( (string) self::get( 'companion_url' ) );
	}

	/**
	 * The companion's base URL as browsers reach it (defaults to companion_url).
	 */
	public static function companion_public_url(): string {
		$public = (string) self::get( 'companion_public' );
		return untrailingslashit( '' !== $public ? $public : self::companion_url() );
	}

	/**
	 * Register the option with its sanitizer.
	 */
	public function register_setting(): void {
		register_setting(
			'scripthammer',
			self::OPTION,
			array(
				'type'              => 'object',
				'sanitize_callback' => array( self::class, 'sanitize' ),
				'default'           => self::defaults(),
				'show_in_rest'      => false,
			)
		);
	}

	/**
	 * Clean submitted settings.
	 *
	 * @param mixed $input The submitted values.
	 * @return array<string,mixed>
	 */
	public static function sanitize( $input ): array {
		$input = is_array( $input ) ? $input : array();
		$old   = get_option( self::OPTION, array() );
		$old   = is_array( $old ) ? $old : array();
		$out   = array_merge( self::defaults(), $old );
		if ( isset( $input['companion_url'] ) ) {
			$out['companion_url'] = esc_url_raw( trim( (string) $input['companion_url'] ), array( 'http', 'https' ) );
		}
		if ( isset( $input['companion_public'] ) ) {
			$out['companion_public'] = esc_url_raw( trim( (string) $input['companion_public'] ), array( 'http', 'https' ) );
		}
		// An empty secret field keeps the stored secret (it is never echoed back into the form).
		if ( isset( $input['shared_secret'] ) && '' !== trim( (string) $input['shared_secret'] ) ) {
			$out['shared_secret'] = sanitize_text_field( (string) $input['shared_secret'] );
		}
		foreach ( array( 'tip_min', 'tip_max', 'subscription_price' ) as $key ) {
			if ( isset( $input[ $key ] ) ) {
				$out[ $key ] = max( 0, round( (float) $input[ $key ], 2 ) );
			}
		}
		if ( isset( $input['membership_days'] ) ) {
			$out['membership_days'] = max( 1, min( 3660, absint( $input['membership_days'] ) ) );
		}
		if ( $out['tip_max'] < $out['tip_min'] ) {
			$out['tip_max'] = $out['tip_min'];
		}
		return $out;
	}

	/**
	 * Add the settings page under Settings.
	 */
	public function add_menu(): void {
		add_options_page(
			__( 'ScriptHammer', 'scripthammer' ),
			__( 'ScriptHammer', 'scripthammer' ),
			'manage_options',
			self::PAGE,
			array( $this, 'render_page' )
		);
	}

	/**
	 * The settings page.
	 */
	public function render_page(): void {
		if ( ! current_user_can( 'manage_options' ) ) {
			wp_die( esc_html__( 'You may not change the ScriptHammer settings.', 'scripthammer' ), 403 );
		}
		$s      = self::all();
		$result = get_transient( self::TEST_ACTION . '_' . get_current_user_id() );
		delete_transient( self::TEST_ACTION . '_' . get_current_user_id() );
		?>
		<div class="wrap scripthammer-settings">
			<h1><?php esc_html_e( 'ScriptHammer', 'scripthammer' ); ?></h1>
			<?php if ( is_array( $result ) ) : ?>
				<div id="scripthammer-connection" class="notice <?php echo esc_attr( $result['ok'] ? 'notice-success' : 'notice-error' ); ?>">
					<p><strong><?php echo esc_html( $result['ok'] ? __( 'The companion answered.', 'scripthammer' ) : __( 'The companion did not answer properly.', 'scripthammer' ) ); ?></strong>
					<?php echo esc_html( $result['message'] ); ?></p>
					<?php if ( ! empty( $result['checks'] ) ) : ?>
						<ul class="scripthammer-health">
							<?php foreach ( $result['checks'] as $name => $check ) : ?>
								<li data-check="<?php echo esc_attr( $name ); ?>"><?php echo esc_html( $name . ': ' . $check ); ?></li>
							<?php endforeach; ?>
						</ul>
					<?php endif; ?>
					<?php if ( isset( $result['queue_depth'] ) ) : ?>
						<p class="scripthammer-queue-depth"><?php echo esc_html( sprintf( /* translators: %d: number of queued jobs */ __( 'Jobs waiting in the queue: %d', 'scripthammer' ), (int) $result['queue_depth'] ) ); ?></p>
					<?php endif; ?>
				</div>
			<?php endif; ?>
			<form method="post" action="<?php echo esc_url( admin_url( 'options.php' ) ); ?>">
				<?php settings_fields( 'scripthammer' ); ?>
				<table class="form-table" role="presentation">
					<tr>
						<th scope="row"><label for="sh-companion-url"><?php esc_html_e( 'Companion URL', 'scripthammer' ); ?></label></th>
						<td><input id="sh-companion-url" class="regular-text" type="url" name="<?php echo esc_attr( self::OPTION ); ?>[companion_url]" value="<?php echo esc_attr( $s['companion_url'] ); ?>" placeholder="http://127.0.0.1:8750" />
						<p class="description"><?php esc_html_e( 'Where this server reaches the companion service.', 'scripthammer' ); ?></p></td>
					</tr>
					<tr>
						<th scope="row"><label for="sh-companion-public"><?php esc_html_e( 'Companion URL for browsers', 'scripthammer' ); ?></label></th>
						<td><input id="sh-companion-public" class="regular-text" type="url" name="<?php echo esc_attr( self::OPTION ); ?>[companion_public]" value="<?php echo esc_attr( $s['companion_public'] ); ?>" />
						<p class="description"><?php esc_html_e( 'Leave empty when browsers reach the companion at the same URL.', 'scripthammer' ); ?></p></td>
					</tr>
					<tr>
						<th scope="row"><label for="sh-shared-secret"><?php esc_html_e( 'Shared secret', 'scripthammer' ); ?></label></th>
						<td><input id="sh-shared-secret" class="regular-text" type="password" autocomplete="new-password" name="<?php echo esc_attr( self::OPTION ); ?>[shared_secret]" value="" placeholder="<?php echo esc_attr( '' !== $s['shared_secret'] ? __( '(stored; type to replace)', 'scripthammer' ) : '' ); ?>" />
						<p class="description"><?php esc_html_e( 'The same value as SCRIPTHAMMER_WP_SHARED_SECRET on the companion.', 'scripthammer' ); ?></p></td>
					</tr>
					<tr>
						<th scope="row"><?php esc_html_e( 'Tips', 'scripthammer' ); ?></th>
						<td>
							<label><?php esc_html_e( 'Minimum', 'scripthammer' ); ?> <input type="number" step="0.01" min="0" name="<?php echo esc_attr( self::OPTION ); ?>[tip_min]" value="<?php echo esc_attr( (string) $s['tip_min'] ); ?>" /></label>
							<label><?php esc_html_e( 'Maximum', 'scripthammer' ); ?> <input type="number" step="0.01" min="0" name="<?php echo esc_attr( self::OPTION ); ?>[tip_max]" value="<?php echo esc_attr( (string) $s['tip_max'] ); ?>" /></label>
						</td>
					</tr>
					<tr>
						<th scope="row"><?php esc_html_e( 'Fan subscription', 'scripthammer' ); ?></th>
						<td>
							<label><?php esc_html_e( 'Price per month', 'scripthammer' ); ?> <input type="number" step="0.01" min="0" name="<?php echo esc_attr( self::OPTION ); ?>[subscription_price]" value="<?php echo esc_attr( (string) $s['subscription_price'] ); ?>" /></label>
							<label><?php esc_html_e( 'Membership days (without WooCommerce Subscriptions)', 'scripthammer' ); ?> <input type="number" min="1" name="<?php echo esc_attr( self::OPTION ); ?>[membership_days]" value="<?php echo esc_attr( (string) $s['membership_days'] ); ?>" /></label>
						</td>
					</tr>
				</table>
				<?php submit_button(); ?>
			</form>
			<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>">
				<input type="hidden" name="action" value="<?php echo esc_attr( self::TEST_ACTION ); ?>" />
				<?php wp_nonce_field( self::TEST_ACTION ); ?>
				<?php submit_button( __( 'Test connection', 'scripthammer' ), 'secondary', 'scripthammer-test-connection', false ); ?>
			</form>
		</div>
		<?php
	}

	/**
	 * The "test connection" button: ask the companion's health (signed), show it on the page.
	 */
	public function handle_test_connection(): void {
		if ( ! current_user_can( 'manage_options' ) ) {
			wp_die( esc_html__( 'You may not test the connection.', 'scripthammer' ), 403 );
		}
		check_admin_referer( self::TEST_ACTION );
		set_transient( self::TEST_ACTION . '_' . get_current_user_id(), self::test_connection(), 120 );
		wp_safe_redirect( admin_url( 'options-general.php?page=' . self::PAGE ) );
		exit;
	}

	/**
	 * Ask the companion's /api/health and describe the answer.
	 *
	 * @return array{ok:bool,message:string,checks:array<string,string>,queue_depth?:int}
	 */
	public static function test_connection(): array {
		$health = Companion::from_settings()->health();
		if ( is_wp_error( $health ) ) {
			return array(
				'ok'      => false,
				'message' => $health->get_error_message(),
				'checks'  => array(),
			);
		}
		$checks = array();
		foreach ( (array) ( $health['checks'] ?? array() ) as $name => $check ) {
			$check                    = is_array( $check ) ? $check : array();
			$checks[ (string) $name ] = ( ! empty( $check['ok'] ) ? 'ok' : 'failing' ) . ' (' . (string) ( $check['detail'] ?? '' ) . ')';
		}
		$ok  = ! empty( $health['ok'] );
		$out = array(
			'ok'      => $ok,
			'message' => $ok
				? sprintf( /* translators: %s: companion version */ __( 'Everything is up (companion %s).', 'scripthammer' ), (string) ( $health['version'] ?? '?' ) )
				: __( 'Something the companion needs is down: see below.', 'scripthammer' ),
			'checks'  => $checks,
		);
		if ( isset( $health['queue']['depth'] ) ) {
			$out['queue_depth'] = (int) $health['queue']['depth'];
		}
		return $out;
	}
}
