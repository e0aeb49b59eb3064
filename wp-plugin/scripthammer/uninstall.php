<?php
/**
 * Uninstall: remove the plugin's options, its nonce table, roles and capabilities.
 * Posts (albums, tracks...) and WooCommerce products stay: they are the site's content.
 *
 * @package ScriptHammer
 */

defined( 'WP_UNINSTALL_PLUGIN' ) || exit;

require_once __DIR__ . '/includes/Autoloader.php';
\ScriptHammer\Autoloader::register( __DIR__ . '/includes' );

foreach ( \ScriptHammer\Installer::options() as $scripthammer_option ) {
	delete_option( $scripthammer_option );
}
\ScriptHammer\NonceStore::uninstall();
\ScriptHammer\Roles::uninstall();
