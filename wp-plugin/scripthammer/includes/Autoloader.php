<?php
/**
 * Loads ScriptHammer\Foo from includes/Foo.php (one class per file).
 *
 * @package ScriptHammer
 */

namespace ScriptHammer;

defined( 'ABSPATH' ) || exit;

/**
 * A PSR-4 style autoloader for the plugin's own namespace.
 */
final class Autoloader {

	/**
	 * Register the autoloader for classes under $dir.
	 *
	 * @param string $dir The includes folder.
	 */
	public static function register( string $dir ): void {
		spl_autoload_register(
			static function ( string $class ) use ( $dir ): void {
				$prefix = __NAMESPACE__ . '\\';
				if ( 0 !== strncmp( $class, $prefix, strlen( $prefix ) ) ) {
					return;
				}
				$relative = substr( $class, strlen( $prefix ) );
				if ( ! preg_match( '/^[A-Za-z0-9_\\\\]+$/', $relative ) ) {
					return;
				}
				$file = $dir . '/' . str_replace( '\\', '/', $relative ) . '.php';
				if ( is_readable( $file ) ) {
					require_once $file;
				}
			}
		);
	}
}
