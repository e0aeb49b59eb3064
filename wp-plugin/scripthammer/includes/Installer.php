<?php
/**
 * Activation and deactivation.
 *
 * @package ScriptHammer
 */

namespace ScriptHammer;

defined( 'ABSPATH' ) || exit;

/**
 * What activation sets up: the nonce table, roles, default settings, and a note that the
 * WooCommerce products are due (they are created after woocommerce_init, never here).
 */
final class Installer {

	/**
	 * Activation hook.
	 */
	public static function activate(): void {
		NonceStore::install();
		Roles::install();
		add_option( Settings::OPTION, Settings::defaults(), '', false );
		update_option( Commerce::DUE_OPTION, 1, true );
		update_option( Webhooks::DUE_OPTION, 1, false );
		( new PostTypes() )->register();
		flush_rewrite_rules();
	}

	/**
	 * Deactivation hook: options and roles stay until uninstall.
	 */
	public static function deactivate(): void {
		flush_rewrite_rules();
	}

	/**
	 * Every option the plugin writes (uninstall removes them).
	 *
	 * @return string[]
	 */
	public static function options(): array {
		return array(
			Settings::OPTION,
			Roles::BAND_OPTION,
			Roles::MAP_OPTION,
			Roles::ASSIGNED_OPTION,
			Webhooks::OPTION,
			Webhooks::DUE_OPTION,
			PostTypes::DB_VERSION_OPTION,
			Commerce::DUE_OPTION,
			Commerce::TIP_OPTION,
			Commerce::SUBSCRIPTION_OPTION,
			BuddyPress::GROUP_OPTION,
			NonceStore::DB_VERSION_OPTION,
		);
	}
}
