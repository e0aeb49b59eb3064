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
	public const BAND_ACTION = 'scripthammer_band_accounts';
	public const HOOKS_ACTION = 'scripthammer_register_webhooks';

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
			'track_price'        => 1,
			'album_price'        => 7,
			'price_max'          => 500,
			'webhook_secret'     => '',
			'analytics_consent'  => 'none',
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
		if ( defined( 'SCRIPTHAMMER_WEBHOOK_SECRET' ) ) {
			$values['webhook_secret'] = (string) constant( 'SCRIPTHAMMER_WEBHOOK_SECRET' );
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
		if ( isset( $input['webhook_secret'] ) && '' !== trim( (string) $input['webhook_secret'] ) ) {
			$out['webhook_secret'] = sanitize_text_field( (string) $input['webhook_secret'] );
		}
		foreach ( array( 'tip_min', 'tip_max', 'subscription_price', 'track_price', 'album_price', 'price_max' ) as $key ) {
			if ( isset( $input[ $key ] ) ) {
				$out[ $key ] = max( 0, round( (float) $input[ $key ], 2 ) );
			}
		}
		if ( isset( $input['membership_days'] ) ) {
			$out['membership_days'] = max( 1, min( 3660, absint( $input['membership_days'] ) ) );
		}
		if ( isset( $input['analytics_consent'] ) ) {
			$out['analytics_consent'] = 'required' === $input['analytics_consent'] ? 'required' : 'none';
		}
		if ( $out['tip_max'] < $out['tip_min'] ) {
			$out['tip_max'] = $out['tip_min'];
		}
		$out['price_max'] = max( (float) $out['price_max'], (float) $out['track_price'], (float) $out['album_price'] );
		Webhooks::mark_due(); // the URL or a secret may have changed: the next admin page updates the webhooks
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
		$notice = get_transient( self::BAND_ACTION . '_' . get_current_user_id() );
		delete_transient( self::BAND_ACTION . '_' . get_current_user_id() );
		$field  = static fn( string $key ): string => self::OPTION . '[' . $key . ']';
		?>
		<div class="wrap scripthammer-settings">
			<h1><?php esc_html_e( 'ScriptHammer', 'scripthammer' ); ?></h1>
			<?php if ( is_array( $result ) ) : ?>
				<div id="scripthammer-connection" class="notice <?php echo esc_attr( $result['ok'] ? 'notice-success' : 'notice-error' ); ?>" data-secret="<?php echo esc_attr( (string) ( $result['secret'] ?? '' ) ); ?>">
					<p><strong><?php echo esc_html( $result['ok'] ? __( 'The companion answered and accepts this site\'s signature.', 'scripthammer' ) : __( 'The companion did not answer properly.', 'scripthammer' ) ); ?></strong>
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
			<?php if ( is_string( $notice ) && '' !== $notice ) : ?>
				<div id="scripthammer-saved" class="notice notice-success"><p><?php echo esc_html( $notice ); ?></p></div>
			<?php endif; ?>
			<form method="post" action="<?php echo esc_url( admin_url( 'options.php' ) ); ?>">
				<?php settings_fields( 'scripthammer' ); ?>
				<table class="form-table" role="presentation">
					<tr>
						<th scope="row"><label for="sh-companion-url"><?php esc_html_e( 'Companion URL', 'scripthammer' ); ?></label></th>
						<td><input id="sh-companion-url" class="regular-text" type="url" name="<?php echo esc_attr( $field( 'companion_url' ) ); ?>" value="<?php echo esc_attr( $s['companion_url'] ); ?>" placeholder="http://127.0.0.1:8750" />
						<p class="description"><?php esc_html_e( 'Where this server reaches the companion service.', 'scripthammer' ); ?></p></td>
					</tr>
					<tr>
						<th scope="row"><label for="sh-companion-public"><?php esc_html_e( 'Companion URL for browsers', 'scripthammer' ); ?></label></th>
						<td><input id="sh-companion-public" class="regular-text" type="url" name="<?php echo esc_attr( $field( 'companion_public' ) ); ?>" value="<?php echo esc_attr( $s['companion_public'] ); ?>" />
						<p class="description"><?php esc_html_e( 'Leave empty when browsers reach the companion at the same URL.', 'scripthammer' ); ?></p></td>
					</tr>
					<tr>
						<th scope="row"><label for="sh-shared-secret"><?php esc_html_e( 'Shared secret', 'scripthammer' ); ?></label></th>
						<td><input id="sh-shared-secret" class="regular-text" type="password" autocomplete="new-password" name="<?php echo esc_attr( $field( 'shared_secret' ) ); ?>" value="" placeholder="<?php echo esc_attr( '' !== $s['shared_secret'] ? __( '(stored; type to replace)', 'scripthammer' ) : '' ); ?>" />
						<p class="description"><?php esc_html_e( 'The same value as SCRIPTHAMMER_WP_SHARED_SECRET on the companion. "Test connection" tells whether they match.', 'scripthammer' ); ?></p></td>
					</tr>
					<tr>
						<th scope="row"><label for="sh-webhook-secret"><?php esc_html_e( 'WooCommerce webhook secret', 'scripthammer' ); ?></label></th>
						<td><input id="sh-webhook-secret" class="regular-text" type="password" autocomplete="new-password" name="<?php echo esc_attr( $field( 'webhook_secret' ) ); ?>" value="" placeholder="<?php echo esc_attr( '' !== $s['webhook_secret'] ? __( '(stored; type to replace)', 'scripthammer' ) : __( '(derived from the shared secret)', 'scripthammer' ) ); ?>" />
						<p class="description"><?php esc_html_e( 'Optional: the same value as SCRIPTHAMMER_WC_WEBHOOK_SECRET on the companion. Empty on both sides: one derived from the shared secret.', 'scripthammer' ); ?></p></td>
					</tr>
					<tr>
						<th scope="row"><label for="sh-analytics-consent"><?php esc_html_e( 'Listening statistics consent', 'scripthammer' ); ?></label></th>
						<td><select id="sh-analytics-consent" name="<?php echo esc_attr( $field( 'analytics_consent' ) ); ?>">
							<option value="none" <?php selected( $s['analytics_consent'], 'none' ); ?>><?php esc_html_e( 'Not asked (pseudonymous statistics for everyone, except Do-Not-Track)', 'scripthammer' ); ?></option>
							<option value="required" <?php selected( $s['analytics_consent'], 'required' ); ?>><?php esc_html_e( 'Required (nothing is counted until the visitor consents to statistics)', 'scripthammer' ); ?></option>
						</select>
						<p class="description"><?php esc_html_e( 'Required: the players read the visitor\'s consent to "statistics" from the WP Consent API when a consent plugin provides it (or from the scripthammer_analytics_consent filter and cookie), and follow a change at once.', 'scripthammer' ); ?></p></td>
					</tr>
					<tr>
						<th scope="row"><?php esc_html_e( 'Tips', 'scripthammer' ); ?></th>
						<td>
							<label><?php esc_html_e( 'Minimum', 'scripthammer' ); ?> <input type="number" step="0.01" min="0" name="<?php echo esc_attr( $field( 'tip_min' ) ); ?>" value="<?php echo esc_attr( (string) $s['tip_min'] ); ?>" /></label>
							<label><?php esc_html_e( 'Maximum', 'scripthammer' ); ?> <input type="number" step="0.01" min="0" name="<?php echo esc_attr( $field( 'tip_max' ) ); ?>" value="<?php echo esc_attr( (string) $s['tip_max'] ); ?>" /></label>
						</td>
					</tr>
					<tr>
						<th scope="row"><?php esc_html_e( 'Releases for sale', 'scripthammer' ); ?></th>
						<td>
							<label><?php esc_html_e( 'Track from', 'scripthammer' ); ?> <input type="number" step="0.01" min="0" name="<?php echo esc_attr( $field( 'track_price' ) ); ?>" value="<?php echo esc_attr( (string) $s['track_price'] ); ?>" /></label>
							<label><?php esc_html_e( 'Album from', 'scripthammer' ); ?> <input type="number" step="0.01" min="0" name="<?php echo esc_attr( $field( 'album_price' ) ); ?>" value="<?php echo esc_attr( (string) $s['album_price'] ); ?>" /></label>
							<label><?php esc_html_e( 'Highest amount', 'scripthammer' ); ?> <input type="number" step="0.01" min="0" name="<?php echo esc_attr( $field( 'price_max' ) ); ?>" value="<?php echo esc_attr( (string) $s['price_max'] ); ?>" /></label>
							<p class="description"><?php esc_html_e( 'Publishing a track or album makes its product once: fans pay at least this, or more. Prices changed in WooCommerce afterwards stay.', 'scripthammer' ); ?></p>
						</td>
					</tr>
					<tr>
						<th scope="row"><?php esc_html_e( 'Fan subscription', 'scripthammer' ); ?></th>
						<td>
							<label><?php esc_html_e( 'Price per month', 'scripthammer' ); ?> <input type="number" step="0.01" min="0" name="<?php echo esc_attr( $field( 'subscription_price' ) ); ?>" value="<?php echo esc_attr( (string) $s['subscription_price'] ); ?>" /></label>
							<label><?php esc_html_e( 'Membership days (without WooCommerce Subscriptions)', 'scripthammer' ); ?> <input type="number" min="1" name="<?php echo esc_attr( $field( 'membership_days' ) ); ?>" value="<?php echo esc_attr( (string) $s['membership_days'] ); ?>" /></label>
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
			<?php
			$this->render_band_accounts();
			$this->render_status();
			?>
		</div>
		<?php
	}

	/**
	 * "Band accounts": which WordPress user is which band member (never guessed from names).
	 */
	private function render_band_accounts(): void {
		$members = get_option( Roles::BAND_OPTION, array() );
		$map     = Roles::band_map();
		?>
		<h2 id="scripthammer-band-accounts"><?php esc_html_e( 'Band accounts', 'scripthammer' ); ?></h2>
		<p class="description"><?php esc_html_e( 'Choose the WordPress account of each band member: it gets the member\'s role (leader, member, guest). Nobody gets a band role from their user name.', 'scripthammer' ); ?></p>
		<?php if ( ! is_array( $members ) || array() === $members ) : ?>
			<p class="scripthammer-no-roster"><?php esc_html_e( 'The companion has not sent the band yet (it does with POST /api/wordpress/band).', 'scripthammer' ); ?></p>
			<?php
			return;
		endif;
		?>
		<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>">
			<input type="hidden" name="action" value="<?php echo esc_attr( self::BAND_ACTION ); ?>" />
			<?php wp_nonce_field( self::BAND_ACTION ); ?>
			<table class="form-table" role="presentation">
				<?php foreach ( $members as $m ) : ?>
					<tr>
						<th scope="row"><label for="sh-band-<?php echo esc_attr( $m['id'] ); ?>"><?php echo esc_html( $m['name'] . ' (' . $m['role'] . ')' ); ?></label></th>
						<td>
						<?php
						wp_dropdown_users(
							array(
								'name'              => 'scripthammer_band_map[' . $m['id'] . ']',
								'id'                => 'sh-band-' . $m['id'],
								'selected'          => (int) ( $map[ $m['id'] ] ?? 0 ),
								'show_option_none'  => __( '— nobody —', 'scripthammer' ),
								'option_none_value' => 0,
								'show'              => 'display_name_with_login',
							)
						);
						?>
						</td>
					</tr>
				<?php endforeach; ?>
			</table>
			<?php submit_button( __( 'Save band accounts', 'scripthammer' ), 'secondary', 'scripthammer-save-band', false ); ?>
		</form>
		<?php
	}

	/**
	 * What the commerce and community side needs, detected: WooCommerce, Subscriptions being buyable,
	 * the webhooks, BuddyPress's Groups component.
	 */
	private function render_status(): void {
		$items = array();
		if ( ! Commerce::woocommerce_active() ) {
			$items['woocommerce'] = array( 'off', __( 'WooCommerce is not active: no tip jar, no subscription, nothing for sale.', 'scripthammer' ) );
		} else {
			$items['woocommerce'] = array( 'ok', __( 'WooCommerce is active.', 'scripthammer' ) );
			if ( Commerce::subscriptions_active() ) {
				$sale                   = Commerce::subscriptions_purchasable();
				$items['subscriptions'] = $sale['ok']
					? array( 'ok', $sale['manual_renewals'] ? __( 'Subscriptions can be bought (manual renewals are allowed).', 'scripthammer' ) : __( 'Subscriptions can be bought.', 'scripthammer' ) )
					: array( 'problem', $sale['message'] );
			} else {
				$items['subscriptions'] = array( 'off', __( 'WooCommerce Subscriptions is not active: the fan subscription is a fixed-term membership.', 'scripthammer' ) );
			}
			foreach ( Webhooks::status() as $topic => $hook ) {
				$items[ 'webhook ' . $topic ] = 'active' === $hook['status']
					? array( 'ok', sprintf( /* translators: %s: URL */ __( 'Active, to %s', 'scripthammer' ), $hook['url'] ) )
					: array( 'problem', sprintf( /* translators: 1: status, 2: failures */ __( 'Not delivering (%1$s, %2$d failures): press "Register webhooks".', 'scripthammer' ), $hook['status'], $hook['failures'] ) );
			}
		}
		if ( BuddyPress::active() ) {
			$items['buddypress groups'] = BuddyPress::groups_available()
				? array( 'ok', __( 'BuddyPress\'s Groups component is on: the band has its group.', 'scripthammer' ) )
				: array( 'problem', __( 'BuddyPress\'s Groups component is off, so the band has no group: turn it on in Settings → BuddyPress → Components.', 'scripthammer' ) );
		}
		?>
		<h2 id="scripthammer-status"><?php esc_html_e( 'Shop and community', 'scripthammer' ); ?></h2>
		<ul class="scripthammer-status">
			<?php foreach ( $items as $name => $item ) : ?>
				<li data-check="<?php echo esc_attr( $name ); ?>" data-state="<?php echo esc_attr( $item[0] ); ?>"><strong><?php echo esc_html( $name ); ?>:</strong> <?php echo esc_html( $item[1] ); ?></li>
			<?php endforeach; ?>
		</ul>
		<?php if ( Commerce::woocommerce_active() ) : ?>
			<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>">
				<input type="hidden" name="action" value="<?php echo esc_attr( self::HOOKS_ACTION ); ?>" />
				<?php wp_nonce_field( self::HOOKS_ACTION ); ?>
				<?php submit_button( __( 'Register webhooks', 'scripthammer' ), 'secondary', 'scripthammer-register-webhooks', false ); ?>
			</form>
		<?php endif; ?>
		<?php
	}

	/**
	 * "Save band accounts": nonce and capability checked; the roles follow at once.
	 */
	public function handle_band_accounts(): void {
		if ( ! current_user_can( 'manage_options' ) ) {
			wp_die( esc_html__( 'You may not change the band accounts.', 'scripthammer' ), 403 );
		}
		check_admin_referer( self::BAND_ACTION );
		$members = get_option( Roles::BAND_OPTION, array() );
		$members = is_array( $members ) ? $members : array();
		// phpcs:ignore WordPress.Security.ValidatedSanitizedInput -- each value goes through absint in sanitize_map.
		$input = isset( $_POST['scripthammer_band_map'] ) ? wp_unslash( $_POST['scripthammer_band_map'] ) : array();
		update_option( Roles::MAP_OPTION, Roles::sanitize_map( $input, $members ), false );
		$assigned = Roles::apply_band( $members );
		/* translators: %d: number of accounts */
		set_transient( self::BAND_ACTION . '_' . get_current_user_id(), sprintf( __( 'Band accounts saved: %d account(s) have a band role.', 'scripthammer' ), $assigned ), 120 );
		wp_safe_redirect( admin_url( 'options-general.php?page=' . self::PAGE ) );
		exit;
	}

	/**
	 * "Register webhooks": nonce and capability checked; paused or disabled webhooks are turned back on.
	 */
	public function handle_register_webhooks(): void {
		if ( ! current_user_can( 'manage_options' ) ) {
			wp_die( esc_html__( 'You may not register webhooks.', 'scripthammer' ), 403 );
		}
		check_admin_referer( self::HOOKS_ACTION );
		$result = Webhooks::ensure( true );
		$text   = is_wp_error( $result ) ? $result->get_error_message() : sprintf( /* translators: %d: number of webhooks */ __( 'Webhooks registered: %d.', 'scripthammer' ), count( $result ) );
		set_transient( self::BAND_ACTION . '_' . get_current_user_id(), $text, 120 );
		wp_safe_redirect( admin_url( 'options-general.php?page=' . self::PAGE ) );
		exit;
	}

	/**
	 * The "test connection" button: a signed ping and the companion's health, shown on the page.
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
	 * A signed ping (does the companion accept this site's shared secret?), then the companion's health.
	 *
	 * @return array{ok:bool,message:string,secret:string,checks:array<string,string>,queue_depth?:int}
	 */
	public static function test_connection(): array {
		$companion = Companion::from_settings();
		$hello     = $companion->hello();
		if ( is_wp_error( $hello ) ) {
			$data     = $hello->get_error_data();
			$status   = is_array( $data ) ? (int) ( $data['status'] ?? 0 ) : 0;
			$mismatch = 401 === $status;
			return array(
				'ok'      => false,
				'secret'  => $mismatch ? 'mismatch' : 'unknown',
				'message' => $mismatch
					? __( 'The shared secret here does not match the companion\'s (SCRIPTHAMMER_WP_SHARED_SECRET): publishing, uploads and the player\'s listener tokens will fail until they are the same.', 'scripthammer' ) . ' ' . $hello->get_error_message()
					: $hello->get_error_message(),
				'checks'  => array(),
			);
		}
		$health = $companion->health();
		if ( is_wp_error( $health ) ) {
			return array(
				'ok'      => false,
				'secret'  => 'matches',
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
			'secret'  => 'matches',
			'message' => $ok
				? sprintf( /* translators: %s: companion version */ __( 'The shared secret matches; everything is up (companion %s).', 'scripthammer' ), (string) ( $health['version'] ?? '?' ) )
				: __( 'The shared secret matches, but something the companion needs is down: see below.', 'scripthammer' ),
			'checks'  => $checks,
		);
		if ( isset( $health['queue']['depth'] ) ) {
			$out['queue_depth'] = (int) $health['queue']['depth'];
		}
		return $out;
	}
}
