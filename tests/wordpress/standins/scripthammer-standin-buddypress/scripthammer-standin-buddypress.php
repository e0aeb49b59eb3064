<?php
/**
 * Plugin Name: ScriptHammer TEST STAND-IN for BuddyPress (not BuddyPress)
 * Description: Only the BuddyPress functions the ScriptHammer plugin calls (member types, groups), for tests without the real plugin.
 * Version: 0.0.0-standin
 */

defined( 'ABSPATH' ) || exit;

// phpcs:disable -- test stand-in

function buddypress() {
	return (object) array( 'version' => '0.0.0-standin' );
}

add_action( 'init', static function () {
	do_action( 'bp_register_member_types' );
}, 5 );

function bp_register_member_type( $type, $args = array() ) {
	$GLOBALS['scripthammer_standin_member_types'][ $type ] = (object) array( 'name' => $type, 'labels' => $args['labels'] ?? array() );
	return $GLOBALS['scripthammer_standin_member_types'][ $type ];
}

function bp_get_member_types( $args = array(), $output = 'names' ) {
	$types = $GLOBALS['scripthammer_standin_member_types'] ?? array();
	return 'names' === $output ? array_combine( array_keys( $types ), array_keys( $types ) ) : $types;
}

function bp_set_member_type( $user_id, $member_type, $append = false ) {
	update_user_meta( $user_id, 'scripthammer_standin_member_type', $member_type );
	return array( $member_type );
}

function bp_get_member_type( $user_id, $single = true ) {
	$type = get_user_meta( $user_id, 'scripthammer_standin_member_type', true );
	return $type ? ( $single ? $type : array( $type ) ) : false;
}

function bp_is_active( $component = '' ) {
	return true;
}

function groups_create_group( $args ) {
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
