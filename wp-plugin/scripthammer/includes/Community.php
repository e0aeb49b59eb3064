<?php
/**
 * Who someone is on the site, kept in step everywhere: the band role (leader, member, guest) or a
 * listener (the Listener role, or a paying fan: an active subscription or membership), as WordPress
 * roles, BuddyPress member types and the band group.
 *
 * - A customer whose subscription becomes active (or whose membership is granted) gets the Listener role
 *   (marked as given for the subscription) and the listener member type; when it ends they lose what was
 *   given for it.
 * - Any role change (set, added, removed) recomputes the member type and the band group: a member moved
 *   out of the band loses the band member type and leaves the band group.
 *
 * @package ScriptHammer
 */

namespace ScriptHammer;

defined( 'ABSPATH' ) || exit;

/**
 * Roles, member types and the band group from the band roles and the fan status.
 */
final class Community {

	public const FAN_ROLE_META  = 'scripthammer_fan_role';
	public const FAN_CHECK_META = 'scripthammer_fan_checked';
	public const LISTENER_ROLE  = 'scripthammer_listener';

	/**
	 * Users being synced (the role changes below fire the same hooks again).
	 *
	 * @var array<int,bool>
	 */
	private static array $busy = array();

	/**
	 * What the user is in the community: leader, member or guest (a band role), listener, or ''.
	 *
	 * @param \WP_User $user The user.
	 */
	public static function standing( \WP_User $user ): string {
		$band = Roles::band_role( $user );
		if ( '' !== $band ) {
			return $band;
		}
		if ( in_array( self::LISTENER_ROLE, (array) $user->roles, true ) ) {
			return 'listener';
		}
		return '';
	}

	/**
	 * Make the member type and the band group match the user's roles (on every role change).
	 *
	 * @param int $user_id The user.
	 */
	public static function sync_user( $user_id ): void {
		$user_id = (int) $user_id;
		$user    = get_userdata( $user_id );
		if ( ! $user || isset( self::$busy[ $user_id ] ) ) {
			return;
		}
		self::$busy[ $user_id ] = true;
		try {
			BuddyPress::apply_standing( $user_id, self::standing( $user ) );
		} finally {
			unset( self::$busy[ $user_id ] );
		}
	}

	/**
	 * A paying fan gets the Listener role (marked as given for it) and the listener member type; someone
	 * who stopped paying loses the role that was given for it (not one an administrator gave).
	 *
	 * @param int $user_id The user.
	 */
	public static function sync_fan( $user_id ): void {
		$user_id = (int) $user_id;
		$user    = get_userdata( $user_id );
		if ( ! $user || in_array( 'administrator', (array) $user->roles, true ) ) {
			return;
		}
		$fan   = Commerce::is_fan_member( $user_id );
		$given = (bool) get_user_meta( $user_id, self::FAN_ROLE_META, true );
		$has   = in_array( self::LISTENER_ROLE, (array) $user->roles, true );
		update_user_meta( $user_id, self::FAN_CHECK_META, time() );
		if ( $fan && ! $has && '' === Roles::band_role( $user ) ) {
			$user->add_role( self::LISTENER_ROLE );
			update_user_meta( $user_id, self::FAN_ROLE_META, 1 );
		} elseif ( ! $fan && $has && $given ) {
			$user->remove_role( self::LISTENER_ROLE );
			delete_user_meta( $user_id, self::FAN_ROLE_META );
			if ( array() === array_filter( (array) $user->roles ) ) {
				$user->set_role( self::fallback_role() );
			}
		}
		self::sync_user( $user_id );
	}

	/**
	 * The role someone who stops being a fan keeps: WooCommerce's customer, else the site's default.
	 */
	private static function fallback_role(): string {
		if ( get_role( 'customer' ) ) {
			return 'customer';
		}
		$default = (string) get_option( 'default_role', 'subscriber' );
		return get_role( $default ) ? $default : 'subscriber';
	}

	/**
	 * Action woocommerce_subscription_status_updated: the subscriber's standing follows the subscription.
	 *
	 * @param object $subscription The WC_Subscription.
	 */
	public static function on_subscription_status( $subscription ): void {
		if ( is_object( $subscription ) && method_exists( $subscription, 'get_user_id' ) ) {
			self::sync_fan( (int) $subscription->get_user_id() );
		}
	}

	/**
	 * On init, for the signed-in user at most once an hour: a membership that ran out (nothing fires
	 * when a date passes) takes back what it gave.
	 */
	public static function recheck_current_user(): void {
		$user_id = get_current_user_id();
		if ( $user_id <= 0 || ! Commerce::woocommerce_active() ) {
			return;
		}
		if ( time() - (int) get_user_meta( $user_id, self::FAN_CHECK_META, true ) < HOUR_IN_SECONDS ) {
			return;
		}
		self::sync_fan( $user_id );
	}
}
