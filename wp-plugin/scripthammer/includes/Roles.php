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
	/** The site owner's choice: band member id => WordPress user id (Settings → ScriptHammer). */
	public const MAP_OPTION      = 'scripthammer_band_map';
	/** Who the last sync gave a band role: member id => user id (taken back when the mapping changes). */
	public const ASSIGNED_OPTION = 'scripthammer_band_assigned';

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
	 * The site owner's mapping of band members to WordPress users (member id => user id).
	 *
	 * @return array<string,int>
	 */
	public static function band_map(): array {
		$map = get_option( self::MAP_OPTION, array() );
		$out = array();
		foreach ( is_array( $map ) ? $map : array() as $member => $user_id ) {
			if ( (int) $user_id > 0 ) {
				$out[ sanitize_key( (string) $member ) ] = (int) $user_id;
			}
		}
		return $out;
	}

	/**
	 * Keep a submitted mapping to the roster's members and existing users (0 or missing: nobody).
	 *
	 * @param mixed                                              $input   member id => user id.
	 * @param array<int,array{id:string,name:string,role:string}> $members The roster.
	 * @return array<string,int>
	 */
	public static function sanitize_map( $input, array $members ): array {
		$input = is_array( $input ) ? $input : array();
		$out   = array();
		foreach ( $members as $m ) {
			$user_id = isset( $input[ $m['id'] ] ) ? absint( $input[ $m['id'] ] ) : 0;
			if ( $user_id > 0 && get_userdata( $user_id ) ) {
				$out[ $m['id'] ] = $user_id;
			}
		}
		return $out;
	}

	/**
	 * Give the band's accounts their roles: the WordPress user the site owner chose for each member
	 * (Settings → ScriptHammer → Band accounts) gets that member's role; never a user found by name (a
	 * login equal to a public member id could be anyone's, with open registration). Administrators keep
	 * their role and gain the band role beside it. A user the previous sync made a band member and who is
	 * no longer mapped to that member loses that band role.
	 *
	 * @param array<int,array{id:string,name:string,role:string}> $members The roster.
	 * @return int How many users were given a band role.
	 */
	public static function apply_band( array $members ): int {
		$map      = self::band_map();
		$previous = get_option( self::ASSIGNED_OPTION, array() );
		$previous = is_array( $previous ) ? $previous : array();
		$assigned = array();
		$roles    = array();
		foreach ( $members as $m ) {
			$roles[ $m['id'] ] = 'scripthammer_' . $m['role'];
		}
		foreach ( $previous as $member => $user_id ) {
			if ( ( $map[ $member ] ?? 0 ) !== (int) $user_id || ! isset( $roles[ $member ] ) ) {
				self::take_back( (int) $user_id, (string) $member, $members );
			}
		}
		foreach ( $members as $m ) {
			$user = isset( $map[ $m['id'] ] ) ? get_userdata( $map[ $m['id'] ] ) : false;
			if ( ! $user ) {
				continue;
			}
			$role = $roles[ $m['id'] ];
			if ( in_array( 'administrator', (array) $user->roles, true ) ) {
				$user->add_role( $role );
			} elseif ( ! in_array( $role, (array) $user->roles, true ) || count( (array) $user->roles ) > 1 ) {
				$user->set_role( $role );
			}
			Community::sync_user( (int) $user->ID );
			$assigned[ $m['id'] ] = (int) $user->ID;
		}
		update_option( self::ASSIGNED_OPTION, $assigned, false );
		return count( $assigned );
	}

	/**
	 * Take a band role back from a user who is no longer mapped to that member.
	 *
	 * @param int                                                 $user_id The user.
	 * @param string                                              $member  The member id.
	 * @param array<int,array{id:string,name:string,role:string}> $members The roster.
	 */
	private static function take_back( int $user_id, string $member, array $members ): void {
		$user = get_userdata( $user_id );
		if ( ! $user ) {
			return;
		}
		foreach ( $members as $m ) {
			if ( $m['id'] === $member ) {
				$user->remove_role( 'scripthammer_' . $m['role'] );
			}
		}
		if ( array() === array_filter( (array) $user->roles ) ) {
			$user->set_role( (string) get_option( 'default_role', 'subscriber' ) );
		}
		Community::sync_user( $user_id );
	}
}
