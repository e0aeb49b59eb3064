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
		add_filter( 'is_protected_meta', array( PostTypes::class, 'protect_meta' ), 10, 2 );
		add_filter( 'manage_' . PostTypes::TRACK . '_posts_columns', array( PostTypes::class, 'track_columns' ) );
		add_action( 'manage_' . PostTypes::TRACK . '_posts_custom_column', array( PostTypes::class, 'track_column' ), 10, 2 );
		add_filter( 'the_content', array( $blocks, 'append_player' ) );

		// REST.
		add_action( 'rest_api_init', array( $rest, 'register_routes' ) );

		// Admin.
		add_action( 'admin_init', array( $settings, 'register_setting' ) );
		add_action( 'admin_init', array( NonceStore::class, 'maybe_install' ) );
		add_action( 'admin_init', array( PostTypes::class, 'upgrade' ) );
		add_action( 'admin_menu', array( $settings, 'add_menu' ) );
		add_action( 'admin_post_' . Settings::TEST_ACTION, array( $settings, 'handle_test_connection' ) );
		add_action( 'admin_post_' . Settings::BAND_ACTION, array( $settings, 'handle_band_accounts' ) );
		add_action( 'admin_post_' . Settings::HOOKS_ACTION, array( $settings, 'handle_register_webhooks' ) );
		StudioLink::register();
		DeviceFlow::register();
		Broadcasts::register();
		Dashboard::register();
		FanFeedback::register();
		Privacy::register();
		Consent::register();
		add_filter( 'use_block_editor_for_post_type', array( TrackEditor::class, 'use_block_editor' ), 10, 2 );
		add_action( 'add_meta_boxes_' . PostTypes::TRACK, array( $editor, 'add_meta_box' ) );
		add_action( 'save_post_' . PostTypes::TRACK, array( $editor, 'save' ) );
		add_action( 'admin_enqueue_scripts', array( $editor, 'enqueue' ) );
		add_action( 'admin_notices', array( Commerce::class, 'admin_notice' ) );
		add_action( 'admin_notices', array( BuddyPress::class, 'admin_notice' ) );

		// Roles, fans and BuddyPress: any role change keeps member types and the band group in step.
		foreach ( array( 'set_user_role', 'add_user_role', 'remove_user_role' ) as $hook ) {
			add_action( $hook, array( Community::class, 'sync_user' ), 20 );
		}
		add_action( 'woocommerce_subscription_status_updated', array( Community::class, 'on_subscription_status' ), 20 );
		add_action( 'init', array( Community::class, 'recheck_current_user' ), 30 );
		add_action( 'bp_register_member_types', array( BuddyPress::class, 'register_member_types' ) );
		add_action( 'admin_init', array( BuddyPress::class, 'admin_init' ) );

		// WooCommerce: products, amounts, line item scopes, webhooks.
		add_action( 'init', array( Commerce::class, 'create_products_when_due' ), 20 );
		add_action( 'admin_init', array( Commerce::class, 'maybe_create_products' ) );
		add_action( 'admin_init', array( Webhooks::class, 'maybe_ensure' ), 20 );
		add_action( 'activated_plugin', array( Webhooks::class, 'mark_due' ) );
		add_action( 'deactivated_plugin', array( Webhooks::class, 'mark_due' ) );
		add_filter( 'http_request_host_is_external', array( Webhooks::class, 'allow_companion_host' ), 10, 2 );
		add_filter( 'http_allowed_safe_ports', array( Webhooks::class, 'allow_companion_port' ), 10, 2 );
		add_filter( 'woocommerce_add_to_cart_validation', array( Amounts::class, 'validate_add_to_cart' ), 10, 2 );
		add_filter( 'woocommerce_store_api_add_to_cart_data', array( Amounts::class, 'store_api_add_to_cart_data' ), 10, 2 );
		add_filter( 'woocommerce_add_cart_item_data', array( Amounts::class, 'add_cart_item_data' ), 10, 2 );
		add_filter( 'woocommerce_get_cart_item_from_session', array( Amounts::class, 'cart_item_from_session' ), 10, 2 );
		add_action( 'woocommerce_before_calculate_totals', array( Amounts::class, 'apply_prices' ), 20 );
		add_action( 'woocommerce_before_add_to_cart_button', array( Amounts::class, 'product_page_field' ) );
		add_filter( 'woocommerce_product_supports', array( Amounts::class, 'product_supports' ), 10, 3 );
		add_filter( 'woocommerce_product_add_to_cart_url', array( Amounts::class, 'add_to_cart_url' ), 10, 2 );
		add_filter( 'woocommerce_product_add_to_cart_text', array( Amounts::class, 'add_to_cart_text' ), 10, 2 );
		add_filter( 'woocommerce_get_price_html', array( Amounts::class, 'price_html' ), 10, 2 );
		add_filter( 'woocommerce_rest_prepare_shop_order_object', array( ReleaseProducts::class, 'annotate_line_items' ), 20 );
		add_filter( 'woocommerce_rest_prepare_shop_subscription_object', array( ReleaseProducts::class, 'annotate_line_items' ), 20 );
		add_filter( 'woocommerce_rest_prepare_shop_order_object', array( LicenceProducts::class, 'annotate_line_items' ), 21 );
		add_filter( 'woocommerce_checkout_registration_required', array( ReleaseProducts::class, 'registration_required' ) );
		add_action( 'admin_init', array( LicenceProducts::class, 'maybe_sync' ), 30 );
		add_filter( 'woocommerce_rest_prepare_shop_order_object', array( EditionProducts::class, 'annotate_line_items' ), 22 );
		add_filter( 'woocommerce_rest_prepare_shop_order_object', array( BundleProducts::class, 'annotate_line_items' ), 23 );
		add_action( 'template_redirect', array( Attribution::class, 'remember' ) );
		add_filter( 'woocommerce_add_cart_item_data', array( Attribution::class, 'add_cart_item_data' ), 20 );
		add_filter( 'woocommerce_store_api_add_to_cart_data', array( Attribution::class, 'store_api_add_to_cart_data' ), 20, 2 );
		add_filter( 'woocommerce_get_cart_item_from_session', array( Attribution::class, 'cart_item_from_session' ), 20, 2 );
		add_action( 'woocommerce_checkout_create_order_line_item', array( Attribution::class, 'order_line_item' ), 10, 3 );
		add_filter( 'woocommerce_rest_prepare_shop_order_object', array( Attribution::class, 'annotate_line_items' ), 24, 2 );
		add_filter( 'woocommerce_add_to_cart_validation', array( EditionProducts::class, 'validate_add_to_cart' ), 20, 3 );
		add_action( 'admin_init', array( EditionProducts::class, 'maybe_sync' ), 31 );
		add_action( 'admin_init', array( BundleProducts::class, 'maybe_sync' ), 32 );
		add_action( 'woocommerce_payment_complete', array( Commerce::class, 'grant_membership' ) );
		add_action( 'woocommerce_order_status_completed', array( Commerce::class, 'grant_membership' ) );
	}
}
