<?php
/**
 * Uninstall: remove the plugin's WooCommerce webhooks, options, nonce table, roles and capabilities.
 * Posts (albums, tracks...) and WooCommerce products stay: they are the site's content.
 *
 * @package ScriptHammer
 */

defined( 'WP_UNINSTALL_PLUGIN' ) || exit;

require_once __DIR__ . '/includes/Autoloader.php';
\ScriptHammer\Autoloader::register( __DIR__ . '/includes' );

// The webhooks to the companion go (WooCommerce would keep delivering to it).
$scripthammer_hooks = get_option( \ScriptHammer\Webhooks::OPTION, array() );
if ( class_exists( 'WC_Webhook' ) && is_array( $scripthammer_hooks ) ) {
	foreach ( $scripthammer_hooks as $scripthammer_hook_id ) {
		try {
			$scripthammer_hook = new WC_Webhook( (int) $scripthammer_hook_id );
			if ( $scripthammer_hook->get_id() > 0 ) {
				$scripthammer_hook->delete( true );
			}
		} catch ( Exception $e ) {
			continue;
		}
	}
}
foreach ( \ScriptHammer\Installer::options() as $scripthammer_option ) {
	delete_option( $scripthammer_option );
}
// When the products were last synced from the companion (the products themselves stay, like posts).
foreach ( array( \ScriptHammer\LicenceProducts::SYNCED, \ScriptHammer\EditionProducts::SYNCED, \ScriptHammer\BundleProducts::SYNCED ) as $scripthammer_transient ) {
	delete_transient( $scripthammer_transient );
}
\ScriptHammer\NonceStore::uninstall();
\ScriptHammer\Roles::uninstall();
// The mark an erasure request carries while the companion's part failed (Privacy.php).
delete_post_meta_by_key( \ScriptHammer\Privacy::FAILED_META );
