/**
 * The visitor's consent to listening statistics, told to every ScriptHammer player on the page
 * (includes/Consent.php). Sources, first that answers: the WP Consent API (wp_has_consent and its
 * wp_listen_for_consent_change event), a "scripthammer:consent" event with detail {statistics: bool},
 * the scripthammer_analytics_consent cookie (allow / deny). Each change is posted to the players'
 * iframes as their setConsent command (player/src/bridge.js), so it applies without a reload.
 */
( function () {
	'use strict';
	var cfg = window.scripthammerConsent || {};
	var category = cfg.category || 'statistics';
	var cookieName = cfg.cookie || 'scripthammer_analytics_consent';
	var origin = cfg.origin || '*';

	function fromCookie() {
		var m = document.cookie.match( new RegExp( '(?:^|; )' + cookieName + '=([^;]*)' ) );
		return m ? m[ 1 ] === 'allow' : null;
	}

	function current() {
		if ( typeof window.wp_has_consent === 'function' ) {
			return !! window.wp_has_consent( category );
		}
		var c = fromCookie();
		return c === null ? false : c;
	}

	var last = null;
	function tell( consent ) {
		last = !! consent;
		var frames = document.querySelectorAll( 'figure.scripthammer-player iframe' );
		for ( var i = 0; i < frames.length; i++ ) {
			try {
				frames[ i ].contentWindow.postMessage( {
					protocol: 'scripthammer-player',
					kind: 'command',
					id: 'consent-' + Date.now().toString( 36 ) + '-' + i,
					method: 'setConsent',
					args: [ last ],
				}, origin );
			} catch ( e ) { /* a frame gone */ }
		}
	}

	// WP Consent API: detail is {category: 'allow' | 'deny', ...} for the categories that changed.
	document.addEventListener( 'wp_listen_for_consent_change', function ( e ) {
		var changed = e && e.detail ? e.detail : {};
		if ( Object.prototype.hasOwnProperty.call( changed, category ) ) {
			tell( changed[ category ] === 'allow' );
		}
	} );
	// A site's own banner.
	document.addEventListener( 'scripthammer:consent', function ( e ) {
		if ( e && e.detail && typeof e.detail.statistics === 'boolean' ) {
			tell( e.detail.statistics );
		}
	} );

	// The page may have learnt the consent after it was made (a cached page, a banner answered since):
	// each player is told when it says it is ready (the bridge forwards its 'ready' event).
	window.addEventListener( 'message', function ( e ) {
		var msg = e.data;
		if ( ! msg || msg.protocol !== 'scripthammer-player' || msg.kind !== 'event' || msg.type !== 'ready' ) {
			return;
		}
		if ( origin !== '*' && e.origin !== origin ) {
			return;
		}
		tell( last === null ? current() : last );
	} );
	window.ScriptHammerConsent = { tell: tell, current: current };
}() );
