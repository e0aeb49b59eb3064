<?php
/**
 * WooCommerce webhooks to the companion: the plugin registers them itself (idempotently), pointing at
 * <companion URL>/api/commerce/woocommerce/webhook, signed with the webhook secret (Settings; empty: one
 * derived from the shared secret, as the companion derives it), for the events that change what fans
 * may hear: orders created, updated (paid, completed, refunded, cancelled...), deleted and restored, and
 * with WooCommerce Subscriptions, subscriptions created, updated (active, on-hold, cancelled, expired...),
 * deleted and switched.
 *
 * WooCommerce delivers with wp_safe_remote_request(), which refuses private addresses and ports other
 * than 80, 443 and 8080: the companion's own host and port are allowed here (and only them).
 *
 * @package ScriptHammer
 */

namespace ScriptHammer;

defined( 'ABSPATH' ) || exit;

/**
 * Registration and status of the plugin's WooCommerce webhooks.
 */
final class Webhooks {

	public const OPTION      = 'scripthammer_webhooks';
	public const DUE_OPTION  = 'scripthammer_webhooks_due';
	public const PATH        = '/api/commerce/woocommerce/webhook';
	public const NAME_PREFIX = 'ScriptHammer companion: ';
	private const DERIVE     = 'scripthammer-woocommerce-webhooks';

	/**
	 * The topics the plugin registers (subscription ones only with WooCommerce Subscriptions).
	 *
	 * @return string[]
	 */
	public static function topics(): array {
		$topics = array( 'order.created', 'order.updated', 'order.deleted', 'order.restored' );
		if ( Commerce::subscriptions_active() ) {
			$topics = array_merge( $topics, array( 'subscription.created', 'subscription.updated', 'subscription.deleted', 'subscription.switched' ) );
		}
		return $topics;
	}

	/**
	 * The secret the webhooks are signed with: the setting (or SCRIPTHAMMER_WEBHOOK_SECRET in
	 * wp-config.php), else HMAC-SHA256(shared secret, "scripthammer-woocommerce-webhooks") in hex.
	 */
	public static function secret(): string {
		$own = (string) Settings::get( 'webhook_secret' );
		if ( '' !== $own ) {
			return $own;
		}
		$shared = (string) Settings::get( 'shared_secret' );
		return '' === $shared ? '' : hash_hmac( 'sha256', self::DERIVE, $shared );
	}

	/**
	 * The companion's webhook URL ('' until the companion URL is set).
	 */
	public static function delivery_url(): string {
		$base = Settings::companion_url();
		return '' === $base ? '' : $base . self::PATH;
	}

	/**
	 * The user WooCommerce builds payloads as (it needs to read orders): the current user if they manage
	 * WooCommerce, else the first administrator.
	 */
	private static function owner(): int {
		if ( current_user_can( 'manage_woocommerce' ) ) {
			return get_current_user_id();
		}
		$admins = get_users(
			array(
				'role'    => 'administrator',
				'number'  => 1,
				'fields'  => 'ID',
				'orderby' => 'ID',
			)
		);
		return $admins ? (int) $admins[0] : 0;
	}

	/**
	 * One of the plugin's webhooks, or null when it is gone.
	 *
	 * @param int $id Webhook id.
	 */
	private static function load( int $id ): ?\WC_Webhook {
		if ( $id <= 0 || ! class_exists( 'WC_Webhook' ) ) {
			return null;
		}
		try {
			$hook = new \WC_Webhook( $id );
		} catch ( \Exception $e ) {
			return null;
		}
		return $hook->get_id() > 0 ? $hook : null;
	}

	/**
	 * Create or update the webhooks (idempotent: unchanged ones are not saved again). ``$reactivate``
	 * turns paused or disabled ones (WooCommerce disables a webhook after repeated failures) back on.
	 *
	 * @param bool $reactivate Re-enable paused or disabled webhooks.
	 * @return array<string,array{id:int,status:string,changed:bool}>|\WP_Error
	 */
	public static function ensure( bool $reactivate = false ) {
		if ( ! Commerce::woocommerce_active() || ! class_exists( 'WC_Webhook' ) ) {
			return new \WP_Error( 'scripthammer_woocommerce_inactive', __( 'WooCommerce is not active.', 'scripthammer' ) );
		}
		$url    = self::delivery_url();
		$secret = self::secret();
		if ( '' === $url || '' === $secret ) {
			return new \WP_Error( 'scripthammer_not_configured', __( 'Set the companion URL and the shared secret first.', 'scripthammer' ) );
		}
		$stored = get_option( self::OPTION, array() );
		$stored = is_array( $stored ) ? $stored : array();
		$out    = array();
		foreach ( self::topics() as $topic ) {
			$hook    = self::load( (int) ( $stored[ $topic ] ?? 0 ) );
			$changed = false;
			if ( null === $hook ) {
				$hook    = new \WC_Webhook();
				$changed = true;
				$hook->set_status( 'active' );
				$hook->set_pending_delivery( false );
			}
			$want = array(
				'name'         => self::NAME_PREFIX . $topic,
				'topic'        => $topic,
				'delivery_url' => $url,
				'secret'       => $secret,
				'api_version'  => 'wp_api_v3',
			);
			foreach ( $want as $prop => $value ) {
				if ( (string) $hook->{"get_$prop"}( 'edit' ) !== (string) $value ) {
					$hook->{"set_$prop"}( $value );
					$changed = true;
				}
			}
			if ( $hook->get_user_id( 'edit' ) <= 0 || ! user_can( $hook->get_user_id( 'edit' ), 'read_private_shop_orders' ) ) {
				$hook->set_user_id( self::owner() );
				$changed = true;
			}
			if ( $reactivate && 'active' !== $hook->get_status( 'edit' ) ) {
				$hook->set_status( 'active' );
				$hook->set_failure_count( 0 );
				$changed = true;
			}
			if ( $changed ) {
				$hook->save();
			}
			$stored[ $topic ] = $hook->get_id();
			$out[ $topic ]    = array(
				'id'      => $hook->get_id(),
				'status'  => (string) $hook->get_status( 'edit' ),
				'changed' => $changed,
			);
		}
		update_option( self::OPTION, $stored, false );
		update_option( self::DUE_OPTION, 0, false );
		return $out;
	}

	/**
	 * The webhooks as they stand (for the settings page): topic => status, failures, URL.
	 *
	 * @return array<string,array{id:int,status:string,failures:int,url:string}>
	 */
	public static function status(): array {
		$out    = array();
		$stored = get_option( self::OPTION, array() );
		foreach ( self::topics() as $topic ) {
			$hook          = self::load( (int) ( is_array( $stored ) ? ( $stored[ $topic ] ?? 0 ) : 0 ) );
			$out[ $topic ] = null === $hook
				? array(
					'id'       => 0,
					'status'   => 'missing',
					'failures' => 0,
					'url'      => '',
				)
				: array(
					'id'       => $hook->get_id(),
					'status'   => (string) $hook->get_status( 'edit' ),
					'failures' => (int) $hook->get_failure_count( 'edit' ),
					'url'      => (string) $hook->get_delivery_url( 'edit' ),
				);
		}
		return $out;
	}

	/**
	 * On admin_init (an administrator's request): register the webhooks when due (activation, settings
	 * saved, WooCommerce Subscriptions switched on or off) or when one is missing.
	 */
	public static function maybe_ensure(): void {
		if ( ! Commerce::woocommerce_active() || ! current_user_can( 'manage_options' ) ) {
			return;
		}
		$stored = get_option( self::OPTION, array() );
		$known  = is_array( $stored ) ? array_keys( array_filter( $stored ) ) : array();
		if ( get_option( self::DUE_OPTION ) || array_diff( self::topics(), $known ) ) {
			self::ensure();
		}
	}

	/**
	 * Mark the webhooks due again (the settings changed).
	 */
	public static function mark_due(): void {
		update_option( self::DUE_OPTION, 1, false );
	}

	/**
	 * Filter http_request_host_is_external: the companion's host may be private (127.0.0.1, a LAN).
	 *
	 * @param bool   $external Allowed so far.
	 * @param string $host     The host.
	 */
	public static function allow_companion_host( $external, $host ) {
		$companion = (string) wp_parse_url( Settings::companion_url(), PHP_URL_HOST );
		return $external || ( '' !== $companion && strtolower( (string) $host ) === strtolower( $companion ) );
	}

	/**
	 * Filter http_allowed_safe_ports: the companion's port, for the companion's host only.
	 *
	 * @param int[]  $ports Allowed ports.
	 * @param string $host  The host.
	 */
	public static function allow_companion_port( $ports, $host ) {
		$parts = wp_parse_url( Settings::companion_url() );
		if ( ! empty( $parts['host'] ) && ! empty( $parts['port'] ) && strtolower( (string) $host ) === strtolower( (string) $parts['host'] ) ) {
			$ports   = (array) $ports;
			$ports[] = (int) $parts['port'];
		}
		return $ports;
	}
}
