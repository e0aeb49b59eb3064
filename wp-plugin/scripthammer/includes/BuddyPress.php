<?php
/**
 * BuddyPress, when it is active: member types for the band and a band group.
 * When it is not, every method here is a no-op and nothing else depends on it.
 *
 * @package ScriptHammer
 */

namespace ScriptHammer;

defined( 'ABSPATH' ) || exit;

/**
 * Member types (leader, member, guest, listener) and the "ScriptHammer" group.
 */
final class BuddyPress {

	public const GROUP_OPTION = 'scripthammer_bp_group_id';
	public const GROUP_SLUG   = 'scripthammer';

	/**
	 * Is BuddyPress loaded?
	 */
	public static function active(): bool {
		return function_exists( 'buddypress' ) && function_exists( 'bp_register_member_type' );
	}

	/**
	 * The member types this plugin registers.
	 *
	 * @return array<string,string> type => label
	 */
	public static function member_types(): array {
		return array(
			'scripthammer-leader'   => __( 'Band leader', 'scripthammer' ),
			'scripthammer-member'   => __( 'Band member', 'scripthammer' ),
			'scripthammer-guest'    => __( 'Guest collaborator', 'scripthammer' ),
			'scripthammer-listener' => __( 'Listener', 'scripthammer' ),
		);
	}

	/**
	 * Register the member types (on bp_register_member_types).
	 */
	public static function register_member_types(): void {
		if ( ! self::active() ) {
			return;
		}
		foreach ( self::member_types() as $type => $label ) {
			bp_register_member_type(
				$type,
				array(
					'labels'        => array(
						'name'          => $label,
						'singular_name' => $label,
					),
					'has_directory' => str_replace( 'scripthammer-', 'band-', $type ),
				)
			);
		}
	}

	/**
	 * Give a user the member type of their band role (kept for callers of the first version).
	 *
	 * @param int    $user_id The user.
	 * @param string $role    leader, member, guest or listener.
	 */
	public static function set_member_type( int $user_id, string $role ): void {
		self::apply_standing( $user_id, $role );
	}

	/**
	 * Make the user's member type and band group membership match their standing: the member type of
	 * it (or none of ours), and in the band group exactly when leader or member.
	 *
	 * @param int    $user_id  The user.
	 * @param string $standing leader, member, guest, listener or '' (none).
	 */
	public static function apply_standing( int $user_id, string $standing ): void {
		if ( ! self::active() || $user_id <= 0 ) {
			return;
		}
		$wanted = isset( self::member_types()[ 'scripthammer-' . $standing ] ) ? 'scripthammer-' . $standing : '';
		$have   = function_exists( 'bp_get_member_type' ) ? (array) bp_get_member_type( $user_id, false ) : array();
		foreach ( $have as $type ) {
			if ( is_string( $type ) && isset( self::member_types()[ $type ] ) && $type !== $wanted && function_exists( 'bp_remove_member_type' ) ) {
				bp_remove_member_type( $user_id, $type );
			}
		}
		if ( '' !== $wanted && ! in_array( $wanted, $have, true ) ) {
			bp_set_member_type( $user_id, $wanted, true );
		}
		self::apply_group( $user_id, in_array( $standing, array( 'leader', 'member' ), true ) );
	}

	/**
	 * Put the user in the band group, or take them out of it.
	 *
	 * @param int  $user_id The user.
	 * @param bool $in      Should they be in it?
	 */
	private static function apply_group( int $user_id, bool $in ): void {
		if ( ! function_exists( 'groups_is_user_member' ) ) {
			return;
		}
		$group = $in ? self::ensure_band_group() : (int) get_option( self::GROUP_OPTION, 0 );
		if ( $group <= 0 ) {
			return;
		}
		$member = (bool) groups_is_user_member( $user_id, $group );
		if ( $in && ! $member && function_exists( 'groups_join_group' ) ) {
			groups_join_group( $group, $user_id );
		} elseif ( ! $in && $member && function_exists( 'groups_leave_group' ) ) {
			groups_leave_group( $group, $user_id );
		}
	}

	/**
	 * Is BuddyPress's Groups component on (it is off by default)? The band group needs it.
	 */
	public static function groups_available(): bool {
		return self::active() && function_exists( 'bp_is_active' ) && bp_is_active( 'groups' ) && function_exists( 'groups_create_group' );
	}

	/**
	 * Admin notice: BuddyPress without its Groups component has no band group.
	 */
	public static function admin_notice(): void {
		if ( ! self::active() || self::groups_available() || ! current_user_can( 'activate_plugins' ) ) {
			return;
		}
		echo '<div class="notice notice-info scripthammer-notice-groups"><p>'
			. esc_html__( 'ScriptHammer: BuddyPress\'s Groups component is off, so the band has no group. Turn it on in Settings → BuddyPress → Components.', 'scripthammer' )
			. '</p></div>';
	}

	/**
	 * The band group's id, created once when the groups component is on; 0 when it is off.
	 */
	public static function ensure_band_group(): int {
		if ( ! self::groups_available() ) {
			return 0;
		}
		$id = (int) get_option( self::GROUP_OPTION, 0 );
		if ( $id > 0 && function_exists( 'groups_get_group' ) ) {
			$group = groups_get_group( $id );
			if ( $group && ! empty( $group->id ) ) {
				return $id;
			}
		}
		$id = function_exists( 'groups_get_id' ) ? (int) groups_get_id( self::GROUP_SLUG ) : 0;
		if ( $id <= 0 ) {
			$creator = get_current_user_id();
			if ( $creator <= 0 ) {
				$admins  = get_users(
					array(
						'role'   => 'administrator',
						'number' => 1,
						'fields' => 'ID',
					)
				);
				$creator = $admins ? (int) $admins[0] : 0;
			}
			if ( $creator <= 0 ) {
				return 0;
			}
			$id = (int) groups_create_group(
				array(
					'creator_id'  => $creator,
					'name'        => 'ScriptHammer',
					'slug'        => self::GROUP_SLUG,
					'description' => __( 'The band: Ivory, Crash, Chops, Reed, Brass, Verse and Form.', 'scripthammer' ),
					'status'      => 'public',
				)
			);
		}
		if ( $id > 0 ) {
			update_option( self::GROUP_OPTION, $id, false );
		}
		return max( 0, $id );
	}

	/**
	 * On admin_init: make sure the band group exists once BuddyPress is set up.
	 */
	public static function admin_init(): void {
		if ( self::active() && current_user_can( 'manage_options' ) && ! get_option( self::GROUP_OPTION ) ) {
			self::ensure_band_group();
		}
	}
}
