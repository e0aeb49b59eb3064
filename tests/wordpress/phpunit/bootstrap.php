<?php
/**
 * PHPUnit bootstrap for the plugin's own classes that need no WordPress (signing, tip amounts,
 * waveform points). The integration with WordPress is tested against a real site by pytest.
 */
define( 'ABSPATH', __DIR__ . '/' );
require_once dirname( __DIR__, 3 ) . '/wp-plugin/scripthammer/includes/Autoloader.php';
\ScriptHammer\Autoloader::register( dirname( __DIR__, 3 ) . '/wp-plugin/scripthammer/includes' );
