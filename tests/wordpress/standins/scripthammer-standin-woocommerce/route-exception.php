<?php
/**
 * Stand-in for WooCommerce's Store API RouteException (not WooCommerce): its Store API answers a
 * RouteException with the exception's status and code, anything else with a 500.
 */

namespace Automattic\WooCommerce\StoreApi\Exceptions;

defined( 'ABSPATH' ) || exit;

// phpcs:disable -- test stand-in

class RouteException extends \Exception {
	public $error_code;
	public $additional_data;

	public function __construct( $error_code, $message, $http_status_code = 400, $additional_data = array() ) {
		$this->error_code      = $error_code;
		$this->additional_data = $additional_data;
		parent::__construct( $message, $http_status_code );
	}

	public function getErrorCode() {
		return $this->error_code;
	}
}
