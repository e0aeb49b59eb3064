<?php
/**
 * Plugin Name:       ScriptHammer
 * Plugin URI:        https://github.com/scripthammer/scripthammer
 * Description:       The ScriptHammer band's music on WordPress: albums, tracks, performances and compositions from the companion service, the player and the tip jar.
 * Version:           0.1.0
 * Requires at least: 6.1
 * Requires PHP:      8.2
 * Author:            ScriptHammer
 * License:           MIT
 * Text Domain:       scripthammer
 *
 * @package ScriptHammer
 */

defined( 'ABSPATH' ) || exit;

define( 'SCRIPTHAMMER_VERSION', '0.1.0' );
define( 'SCRIPTHAMMER_FILE', __FILE__ );
define( 'SCRIPTHAMMER_DIR', __DIR__ );

require_once __DIR__ . '/includes/Autoloader.php';
\ScriptHammer\Autoloader::register( __DIR__ . '/includes' );

register_activation_hook( __FILE__, array( \ScriptHammer\Installer::class, 'activate' ) );
register_deactivation_hook( __FILE__, array( \ScriptHammer\Installer::class, 'deactivate' ) );

\ScriptHammer\Plugin::instance()->register_hooks();
