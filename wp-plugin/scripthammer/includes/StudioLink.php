<?php
/**
 * "Open in studio": a link on a composition's edit screen and on a band member's BuddyPress profile
 * that signs the WordPress user in to the companion's studio with a short-lived token this site mints
 * at the click (never in a page), for the band member the site owner mapped the user to.
 *
 * @package ScriptHammer
 */

namespace ScriptHammer;

defined( 'ABSPATH' ) || exit;

/**
 * The studio link, its admin-post handler and the composition's companion id meta.
 */
final class StudioLink {

	public const ACTION        = 'scripthammer_studio';
	public const META          = 'scripthammer_composition';
	public const TOKEN_SECONDS = 900;

	/**
	 * Hooks (called once by Plugin).
	 */
	public static function register(): void {
		add_action( 'init', array( self::class, 'register_meta' ), 20 );
		add_action( 'add_meta_boxes_' . PostTypes::COMPOSITION, array( self::class, 'add_meta_box' ) );
		add_action( 'admin_post_' . self::ACTION, array( self::class, 'handle' ) );
		add_action( 'bp_member_header_actions', array( self::class, 'profile_button' ) );
		add_filter( 'use_block_editor_for_post_type', array( self::class, 'use_block_editor' ), 10, 2 );
	}

	/**
	 * The companion's composition id of a composition post (a slug, set by publishing or an editor).
	 */
	public static function register_meta(): void {
		register_post_meta(
			PostTypes::COMPOSITION,
			self::META,
			array(
				'type'              => 'string',
				'single'            => true,
				'default'           => '',
				'show_in_rest'      => true,
				'description'       => 'The id of this composition on the companion.',
				'sanitize_callback' => array( self::class, 'sanitize_id' ),
				'auth_callback'     => array( PostTypes::class, 'may_write_meta' ),
			)
		);
	}

	/**
	 * A composition id as the companion spells it, or ''.
	 *
	 * @param mixed $value Raw value.
	 */
	public static function sanitize_id( $value ): string {
		$value = strtolower( trim( (string) $value ) );
		return preg_match( '/^[a-z0-9][a-z0-9-]{0,99}$/', $value ) ? $value : '';
	}

	/**
	 * Compositions use the classic editor: the studio link stays in view.
	 *
	 * @param bool   $use       Use the block editor.
	 * @param string $post_type Post type.
	 */
	public static function use_block_editor( $use, $post_type ) {
		return PostTypes::COMPOSITION === $post_type ? false : $use;
	}

	/**
	 * The band member id the current user is mapped to, or ''.
	 */
	public static function current_member(): string {
		$user_id = get_current_user_id();
		if ( ! $user_id ) {
			return '';
		}
		$member = array_search( $user_id, Roles::band_map(), true );
		return false === $member ? '' : (string) $member;
	}

	/**
	 * The admin-post URL that mints a token and opens the studio ('' for the studio's home).
	 *
	 * @param string $composition Companion composition id.
	 */
	public static function url( string $composition = '' ): string {
		return wp_nonce_url(
			add_query_arg(
				array(
					'action'      => self::ACTION,
					'composition' => $composition,
				),
				admin_url( 'admin-post.php' )
			),
			self::ACTION
		);
	}

	/**
	 * Add the box (on add_meta_boxes_sh_composition).
	 */
	public static function add_meta_box(): void {
		add_meta_box( 'scripthammer-studio', __( 'Studio', 'scripthammer' ), array( self::class, 'render' ), PostTypes::COMPOSITION, 'side', 'high' );
	}

	/**
	 * The box: the link when the composition has a companion id and the user is a band member.
	 *
	 * @param \WP_Post $post The composition.
	 */
	public static function render( $post ): void {
		$id = (string) get_post_meta( $post->ID, self::META, true );
		if ( '' === $id ) {
			echo '<p>' . esc_html__( 'This composition is not on the companion yet.', 'scripthammer' ) . '</p>';
			return;
		}
		if ( '' === self::current_member() ) {
			echo '<p>' . esc_html__( 'Only band members open the studio from here.', 'scripthammer' ) . '</p>';
			return;
		}
		printf(
			'<p><a class="button button-primary" id="scripthammer-open-studio" href="%1$s" target="_blank" rel="noopener" aria-label="%2$s">%3$s</a></p>',
			esc_url( self::url( $id ) ),
			esc_attr( sprintf( /* translators: %s: composition id */ __( 'Open %s in the studio', 'scripthammer' ), $id ) ),
			esc_html__( 'Open in studio', 'scripthammer' )
		);
	}

	/**
	 * On a band member's own BuddyPress profile: a button to the studio.
	 */
	public static function profile_button(): void {
		if ( ! function_exists( 'bp_displayed_user_id' ) || bp_displayed_user_id() !== get_current_user_id() || '' === self::current_member() ) {
			return;
		}
		printf(
			'<div class="generic-button"><a id="scripthammer-profile-studio" href="%1$s" target="_blank" rel="noopener">%2$s</a></div>',
			esc_url( self::url() ),
			esc_html__( 'Open in studio', 'scripthammer' )
		);
	}

	/**
	 * admin-post.php?action=scripthammer_studio: nonce, capability, the user's band member; then a
	 * token and a redirect to the studio with the token in the URL fragment (never sent to a server).
	 */
	public static function handle(): void {
		check_admin_referer( self::ACTION );
		if ( ! current_user_can( Roles::CAP_COLLABORATE ) ) {
			wp_die( esc_html__( 'You may not open the studio.', 'scripthammer' ), 403 );
		}
		$member = self::current_member();
		if ( '' === $member ) {
			wp_die( esc_html__( 'Your account is not mapped to a band member (ScriptHammer settings, band accounts).', 'scripthammer' ), 403 );
		}
		$secret = (string) Settings::get( 'shared_secret' );
		$base   = Settings::companion_url();
		if ( '' === $secret || '' === $base ) {
			wp_die( esc_html__( 'The companion is not configured.', 'scripthammer' ), 503 );
		}
		$composition = self::sanitize_id( isset( $_GET['composition'] ) ? sanitize_text_field( wp_unslash( $_GET['composition'] ) ) : '' );
		$user        = wp_get_current_user();
		$token       = ( new Signer( $secret ) )->studio_token( $member, self::TOKEN_SECONDS, (string) $user->user_login );
		$target      = untrailingslashit( $base ) . '/studio/' . rawurlencode( $composition ) . '#token=' . rawurlencode( $token );
		// The companion is another host: wp_safe_redirect would refuse it, so the allowed host is named.
		add_filter(
			'allowed_redirect_hosts',
			static function ( $hosts ) use ( $base ) {
				$hosts[] = (string) wp_parse_url( $base, PHP_URL_HOST );
				return $hosts;
			}
		);
		wp_safe_redirect( $target );
		exit;
	}
}
