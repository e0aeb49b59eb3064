<?php
/**
 * The band's roles and capabilities, matching the companion's band file
 * (companion/band/band.toml): leader, member, guest collaborator, listener.
 *
 * @package ScriptHammer
 */

namespace ScriptHammer;

defined( 'ABSPATH' ) || exit;

/**
 * Roles, capabilities and the band roster the companion sends.
 */
final class Roles {

	public const CAP_UPLOAD      = 'scripthammer_upload';
	public const CAP_PUBLISH     = 'scripthammer_publish';
	public const CAP_MANAGE      = 'scripthammer_manage';
	public const CAP_COLLABORATE = 'scripthammer_collaborate';
	public const BAND_OPTION     = 'scripthammer_band';

	/**
	 * Role name => [label, capabilities]. The companion's rights map onto them:
	 * leader "*" ; member catalog.write + catalog.upload ; guest compositions.write ; listener none.
	 *
	 * @return array<string,array{0:string,1:array<string,bool>}>
	 */
	public static function definitions(): array {
		$read   = array( 'read' => true );
		$author = $read + array(
			'edit_posts'           => true,
			'edit_published_posts' => true,
			'upload_files'         => true,
			self::CAP_UPLOAD       => true,
			self::CAP_COLLABORATE  => true,
		);
		$leader = $author + array(
			'publish_posts'        => true,
			'edit_others_posts'    => true,
			'delete_posts'         => true,
			'delete_published_posts' => true,
			'edit_pages'           => true,
			'publish_pages'        => true,
			self::CAP_PUBLISH      => true,
			self::CAP_MANAGE       => true,
		);
		return array(
			'scripthammer_leader'   => array( __( 'Band leader', 'scripthammer' ), $leader ),
			'scripthammer_member'   => array( __( 'Band member', 'scripthammer' ), $author ),
			'scripthammer_guest'    => array( __( 'Guest collaborator', 'scripthammer' ), $read + array( self::CAP_COLLABORATE => true ) ),
			'scripthammer_listener' => array( __( 'Listener', 'scripthammer' ), $read ),
		);
	}

	/**
	 * Add (or refresh) the roles and give site administrators and editors the plugin's capabilities.
	 */
	public static function install(): void {
		foreach ( self::definitions() as $role => $def ) {
			remove_role( $role );
			add_role( $role, $def[0], $def[1] );
		}
		$admin = get_role( 'administrator' );
		if ( $admin ) {
			foreach ( array( self::CAP_UPLOAD, self::CAP_PUBLISH, self::CAP_MANAGE, self::CAP_COLLABORATE ) as $cap ) {
				$admin->add_cap( $cap );
			}
		}
		$editor = get_role( 'editor' );
		if ( $editor ) {
			$editor->add_cap( self::CAP_UPLOAD );
		}
	}

	/**
	 * Remove the roles and capabilities (uninstall).
	 */
	public static function uninstall(): void {
		foreach ( array_keys( self::definitions() ) as $role ) {
			remove_role( $role );
		}
		foreach ( array( 'administrator', 'editor' ) as $name ) {
			$role = get_role( $name );
			if ( $role ) {
				foreach ( array( self::CAP_UPLOAD, self::CAP_PUBLISH, self::CAP_MANAGE, self::CAP_COLLABORATE ) as $cap ) {
					$role->remove_cap( $cap );
				}
			}
		}
	}

	/**
	 * The band role (leader, member, guest) of a user, or ''.
	 *
	 * @param \WP_User $user The user.
	 */
	public static function band_role( \WP_User $user ): string {
		foreach ( array( 'leader', 'member', 'guest' ) as $role ) {
			if ( in_array( 'scripthammer_' . $role, (array) $user->roles, true ) ) {
				return $role;
			}
		}
		return '';
	}

	/**
	 * Give the band's accounts their roles: a WordPress user whose login is a member's id gets
	 * that member's role (administrators keep theirs and gain the band role beside it).
	 *
	 * @param array<int,array{id:string,name:string,role:string}> $members The roster.
	 * @return int How many users were given a band role.
	 */
	public static function apply_band( array $members ): int {
		$assigned = 0;
		foreach ( $members as $m ) {
			$user = get_user_by( 'login', $m['id'] );
			if ( ! $user ) {
				continue;
			}
			$role = 'scripthammer_' . $m['role'];
			if ( in_array( 'administrator', (array) $user->roles, true ) ) {
				$user->add_role( $role );
			} else {
				$user->set_role( $role );
			}
			BuddyPress::set_member_type( (int) $user->ID, $m['role'] );
			++$assigned;
		}
		return $assigned;
	}

	/**
	 * When a user's role changes to a band role, keep the BuddyPress member type in step.
	 *
	 * @param int    $user_id The user.
	 * @param string $role    The new role.
	 */
	public static function on_set_user_role( $user_id, $role ): void {
		if ( is_string( $role ) && str_starts_with( $role, 'scripthammer_' ) ) {
			BuddyPress::set_member_type( (int) $user_id, substr( $role, strlen( 'scripthammer_' ) ) );
		}
	}
}
