<?php
/**
 * The one place where the plugin's hooks are registered.
 *
 * @package ScriptHammer
 */

namespace ScriptHammer;

defined( 'ABSPATH' ) || exit;

/**
 * Wires every class to WordPress.
 */
final class Plugin {

	/**
	 * The instance.
	 *
	 * @var Plugin|null
	 */
	private static ?Plugin $instance = null;

	/**
	 * The one instance.
	 */
	public static function instance(): self {
		if ( null === self::$instance ) {
			self::$instance = new self();
		}
		return self::$instance;
	}

	/**
	 * Register all hooks.
	 */
	public function register_hooks(): void {
		$post_types = new PostTypes();
		$settings   = new Settings();
		$rest       = new RestApi();
		$editor     = new TrackEditor();
		$blocks     = new Blocks();

		// Content.
		add_action( 'init', array( $post_types, 'register' ) );
		add_action( 'init', array( $blocks, 'register' ) );
		foreach ( array_keys( PostTypes::types() ) as $type ) {
			add_filter( "rest_{$type}_query", array( PostTypes::class, 'rest_query_by_companion_id' ), 10, 2 );
		}
		add_filter( 'manage_' . PostTypes::TRACK . '_posts_columns', array( PostTypes::class, 'track_columns' ) );
		add_action( 'manage_' . PostTypes::TRACK . '_posts_custom_column', array( PostTypes::class, 'track_column' ), 10, 2 );
		add_filter( 'the_content', array( $blocks, 'append_player' ) );

		// REST.
		add_action( 'rest_api_init', array( $rest, 'register_routes' ) );

		// Admin.
		add_action( 'admin_init', array( $settings, 'register_setting' ) );
		add_action( 'admin_init', array( NonceStore::class, 'maybe_install' ) );
		add_action( 'admin_menu', array( $settings, 'add_menu' ) );
		add_action( 'admin_post_' . Settings::TEST_ACTION, array( $settings, 'handle_test_connection' ) );
		add_filter( 'use_block_editor_for_post_type', array( TrackEditor::class, 'use_block_editor' ), 10, 2 );
		add_action( 'add_meta_boxes_' . PostTypes::TRACK, array( $editor, 'add_meta_box' ) );
		add_action( 'save_post_' . PostTypes::TRACK, array( $editor, 'save' ) );
		add_action( 'admin_enqueue_scripts', array( $editor, 'enqueue' ) );
		add_action( 'admin_notices', array( Commerce::class, 'admin_notice' ) );

		// Roles and BuddyPress.
		add_action( 'set_user_role', array( Roles::class, 'on_set_user_role' ), 10, 2 );
		add_action( 'bp_register_member_types', array( BuddyPress::class, 'register_member_types' ) );
		add_action( 'admin_init', array( BuddyPress::class, 'admin_init' ) );

		// WooCommerce.
		add_action( 'init', array( Commerce::class, 'create_products_when_due' ), 20 );
		add_action( 'admin_init', array( Commerce::class, 'maybe_create_products' ) );
		add_filter( 'woocommerce_add_to_cart_validation', array( Commerce::class, 'validate_add_to_cart' ), 10, 2 );
		add_filter( 'woocommerce_add_cart_item_data', array( Commerce::class, 'add_cart_item_data' ), 10, 2 );
		add_filter( 'woocommerce_get_cart_item_from_session', array( Commerce::class, 'cart_item_from_session' ), 10, 2 );
		add_action( 'woocommerce_before_calculate_totals', array( Commerce::class, 'apply_tip_prices' ), 20 );
		add_action( 'woocommerce_payment_complete', array( Commerce::class, 'grant_membership' ) );
		add_action( 'woocommerce_order_status_completed', array( Commerce::class, 'grant_membership' ) );
	}
}
