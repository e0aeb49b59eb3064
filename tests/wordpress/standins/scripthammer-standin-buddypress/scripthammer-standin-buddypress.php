<?php
/**
 * Plugin Name: ScriptHammer TEST STAND-IN for BuddyPress (not BuddyPress)
 * Description: Only the BuddyPress functions the ScriptHammer plugin and its tests call (member types, components, groups), for tests without the real plugin. As in BuddyPress, the Groups component is off until switched on.
 * Version: 0.0.0-standin
 */

defined( 'ABSPATH' ) || exit;

// phpcs:disable -- test stand-in

function buddypress() {
	return (object) array( 'version' => '0.0.0-standin', 'plugin_dir' => __DIR__ . '/' );
}

add_action( 'init', static function () {
	do_action( 'bp_register_member_types' );
}, 5 );

function bp_get_option( $name, $default = '' ) {
	return get_option( $name, $default );
}

function bp_update_option( $name, $value ) {
	return update_option( $name, $value );
}

/** Components switched on in Settings → BuddyPress (the Groups component is off by default). */
function bp_is_active( $component = '' ) {
	$active = (array) get_option( 'bp-active-components', array( 'members' => 1 ) );
	return '' === $component || ! empty( $active[ $component ] );
}

function bp_register_member_type( $type, $args = array() ) {
	$GLOBALS['scripthammer_standin_member_types'][ $type ] = (object) array( 'name' => $type, 'labels' => $args['labels'] ?? array() );
	return $GLOBALS['scripthammer_standin_member_types'][ $type ];
}

function bp_get_member_types( $args = array(), $output = 'names' ) {
	$types = $GLOBALS['scripthammer_standin_member_types'] ?? array();
	return 'names' === $output ? array_combine( array_keys( $types ), array_keys( $types ) ) : $types;
}

function bp_set_member_type( $user_id, $member_type, $append = false ) {
	$types = $append ? (array) get_user_meta( $user_id, 'scripthammer_standin_member_types', true ) : array();
	if ( '' !== $member_type ) {
		$types[] = $member_type;
	}
	update_user_meta( $user_id, 'scripthammer_standin_member_types', array_values( array_unique( array_filter( $types ) ) ) );
	return $types;
}

function bp_remove_member_type( $user_id, $member_type ) {
	$types = array_values( array_diff( (array) get_user_meta( $user_id, 'scripthammer_standin_member_types', true ), array( $member_type ) ) );
	update_user_meta( $user_id, 'scripthammer_standin_member_types', $types );
	return true;
}

/** As BuddyPress: the first type (or false) when single, the list when not. */
function bp_get_member_type( $user_id, $single = true ) {
	$types = array_values( array_filter( (array) get_user_meta( $user_id, 'scripthammer_standin_member_types', true ) ) );
	if ( ! $types ) {
		return false;
	}
	return $single ? $types[0] : $types;
}

function groups_create_group( $args ) {
	if ( ! bp_is_active( 'groups' ) ) {
		return false;
	}
	$groups = get_option( 'scripthammer_standin_groups', array() );
	$id = count( $groups ) + 1;
	$groups[ $id ] = array( 'id' => $id, 'slug' => $args['slug'], 'name' => $args['name'], 'members' => array( (int) $args['creator_id'] ) );
	update_option( 'scripthammer_standin_groups', $groups );
	return $id;
}

function groups_get_id( $slug ) {
	foreach ( get_option( 'scripthammer_standin_groups', array() ) as $g ) {
		if ( $g['slug'] === $slug ) {
			return $g['id'];
		}
	}
	return 0;
}

function groups_get_group( $id ) {
	$groups = get_option( 'scripthammer_standin_groups', array() );
	return isset( $groups[ $id ] ) ? (object) $groups[ $id ] : (object) array( 'id' => 0 );
}

function groups_is_user_member( $user_id, $group_id ) {
	$groups = get_option( 'scripthammer_standin_groups', array() );
	return isset( $groups[ $group_id ] ) && in_array( (int) $user_id, $groups[ $group_id ]['members'], true );
}

function groups_join_group( $group_id, $user_id ) {
	$groups = get_option( 'scripthammer_standin_groups', array() );
	$groups[ $group_id ]['members'][] = (int) $user_id;
	update_option( 'scripthammer_standin_groups', $groups );
	return true;
}

function groups_leave_group( $group_id, $user_id = 0 ) {
	$groups = get_option( 'scripthammer_standin_groups', array() );
	if ( ! isset( $groups[ $group_id ] ) ) {
		return false;
	}
	$groups[ $group_id ]['members'] = array_values( array_diff( $groups[ $group_id ]['members'], array( (int) $user_id ) ) );
	update_option( 'scripthammer_standin_groups', $groups );
	return true;
}

// A member's profile, as BuddyPress shows one at members/<name>/: its header actions only
// (?scripthammer_standin_profile=<user id>).
function bp_displayed_user_id() {
	return (int) ( $GLOBALS['scripthammer_standin_displayed'] ?? 0 );
}

function bp_members_get_user_url( $user_id ) {
	return add_query_arg( 'scripthammer_standin_profile', (int) $user_id, home_url( '/' ) );
}

add_action( 'template_redirect', static function () {
	if ( ! isset( $_GET['scripthammer_standin_profile'] ) ) {
		return;
	}
	$GLOBALS['scripthammer_standin_displayed'] = absint( $_GET['scripthammer_standin_profile'] );
	echo '<!doctype html><html><head><title>Profile (stand-in)</title></head><body><div id="item-header"><div id="item-buttons">';
	do_action( 'bp_member_header_actions' );
	echo '</div></div></body></html>';
	exit;
} );
