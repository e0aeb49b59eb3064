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
	 * Give a user the member type of their band role, and put band members in the band group.
	 *
	 * @param int    $user_id The user.
	 * @param string $role    leader, member, guest or listener.
	 */
	public static function set_member_type( int $user_id, string $role ): void {
		if ( ! self::active() || ! isset( self::member_types()[ 'scripthammer-' . $role ] ) ) {
			return;
		}
		bp_set_member_type( $user_id, 'scripthammer-' . $role );
		if ( in_array( $role, array( 'leader', 'member' ), true ) ) {
			$group = self::ensure_band_group();
			if ( $group > 0 && function_exists( 'groups_join_group' ) && function_exists( 'groups_is_user_member' ) && ! groups_is_user_member( $user_id, $group ) ) {
				groups_join_group( $group, $user_id );
			}
		}
	}

	/**
	 * The band group's id, created once when the groups component is on; 0 when it is off.
	 */
	public static function ensure_band_group(): int {
		if ( ! self::active() || ! function_exists( 'bp_is_active' ) || ! bp_is_active( 'groups' ) || ! function_exists( 'groups_create_group' ) ) {
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
