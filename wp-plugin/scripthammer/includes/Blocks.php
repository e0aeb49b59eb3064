<?php
/**
 * Player, live player and tip-jar blocks and shortcodes ([scripthammer_player track=ID], [scripthammer_player album=ID],
 * [scripthammer_live session=ID], [scripthammer_tipjar]). Their assets are enqueued only when one of them renders.
 *
 * @package ScriptHammer
 */

namespace ScriptHammer;

defined( 'ABSPATH' ) || exit;

/**
 * Server-rendered blocks and the shortcodes that share their output.
 */
final class Blocks {

	public const PLAYER = 'scripthammer/player';
	public const TIPJAR = 'scripthammer/tip-jar';
	public const LIVE   = 'scripthammer/live';
	/** A performance post's live session on the companion (its /embed/live/<id>). */
	public const META_LIVE_SESSION = 'scripthammer_live_session';
	/** The companion's track id of a performance's released recording (the companion writes it). */
	public const META_RECORDING_TRACK = 'scripthammer_recording_track';
	/** Seconds a page's listener token lives (a reload mints another). */
	public const LISTENER_TOKEN_TTL = 1800;

	/**
	 * Register scripts, styles, blocks and shortcodes (on init).
	 */
	public function register(): void {
		$url = plugins_url( 'assets/', SCRIPTHAMMER_FILE );
		wp_register_style( 'scripthammer-front', $url . 'css/scripthammer.css', array(), SCRIPTHAMMER_VERSION );
		wp_register_script(
			'scripthammer-blocks',
			$url . 'js/blocks.js',
			array( 'wp-blocks', 'wp-element', 'wp-components', 'wp-block-editor', 'wp-server-side-render', 'wp-i18n' ),
			SCRIPTHAMMER_VERSION,
			true
		);
		register_block_type(
			self::PLAYER,
			array(
				'api_version'     => 2,
				'title'           => __( 'ScriptHammer player', 'scripthammer' ),
				'category'        => 'media',
				'editor_script'   => 'scripthammer-blocks',
				'render_callback' => array( $this, 'render_player' ),
				'attributes'      => array(
					'track' => array(
						'type'    => 'integer',
						'default' => 0,
					),
					'album' => array(
						'type'    => 'integer',
						'default' => 0,
					),
				),
			)
		);
		register_block_type(
			self::TIPJAR,
			array(
				'api_version'     => 2,
				'title'           => __( 'ScriptHammer tip jar', 'scripthammer' ),
				'category'        => 'widgets',
				'editor_script'   => 'scripthammer-blocks',
				'render_callback' => array( $this, 'render_tipjar' ),
				'attributes'      => array(
					'amount' => array(
						'type'    => 'number',
						'default' => 5,
					),
				),
			)
		);
		register_block_type(
			self::LIVE,
			array(
				'api_version'     => 2,
				'title'           => __( 'ScriptHammer live player', 'scripthammer' ),
				'category'        => 'media',
				'editor_script'   => 'scripthammer-blocks',
				'render_callback' => array( $this, 'render_live' ),
				'attributes'      => array(
					'session' => array(
						'type'    => 'integer',
						'default' => 0,
					),
				),
			)
		);
		add_shortcode( 'scripthammer_player', array( $this, 'player_shortcode' ) );
		add_shortcode( 'scripthammer_live', array( $this, 'live_shortcode' ) );
		add_shortcode( 'scripthammer_tipjar', array( $this, 'tipjar_shortcode' ) );
	}

	/**
	 * [scripthammer_player track=ID] or [scripthammer_player album=ID] (post ids).
	 *
	 * @param array<string,string>|string $atts Attributes.
	 */
	public function player_shortcode( $atts ): string {
		$atts = shortcode_atts(
			array(
				'track' => 0,
				'album' => 0,
			),
			is_array( $atts ) ? $atts : array(),
			'scripthammer_player'
		);
		return $this->render_player(
			array(
				'track' => absint( $atts['track'] ),
				'album' => absint( $atts['album'] ),
			)
		);
	}

	/**
	 * [scripthammer_live session=ID] (the companion's live session id; without it, the performance post's own).
	 *
	 * @param array<string,string>|string $atts Attributes.
	 */
	public function live_shortcode( $atts ): string {
		$atts = shortcode_atts( array( 'session' => 0 ), is_array( $atts ) ? $atts : array(), 'scripthammer_live' );
		return $this->render_live( array( 'session' => absint( $atts['session'] ) ) );
	}

	/**
	 * The live player: the companion's /embed/live/<session> in an iframe (WebRTC for a signed-in fan, who
	 * gets a listener token in the fragment and may vote; HLS for anyone else). The session is the block's
	 * own, else the performance post's META_LIVE_SESSION.
	 *
	 * @param array<string,mixed> $attrs session (the companion's live session id).
	 */
	public function render_live( $attrs ): string {
		$attrs     = is_array( $attrs ) ? $attrs : array();
		$session   = absint( $attrs['session'] ?? 0 );
		$broadcast = 0;
		$post      = get_post();
		wp_enqueue_style( 'scripthammer-front' );
		if ( $session <= 0 && $post && PostTypes::PERFORMANCE === $post->post_type ) {
			// The broadcast has ended and its recording is released: the post plays the recording.
			$recording = absint( get_post_meta( $post->ID, self::META_RECORDING_TRACK, true ) );
			$base      = Settings::companion_public_url();
			if ( $recording > 0 && '' !== $base ) {
				return sprintf(
					'<figure class="scripthammer-player scripthammer-live wp-block-scripthammer-live" data-kind="recording" data-companion-id="%1$d"><iframe src="%2$s" title="%3$s" width="100%%" height="360" allow="autoplay" referrerpolicy="no-referrer-when-downgrade"></iframe></figure>',
					$recording,
					esc_url( $base . '/embed/track/' . $recording . self::listener_fragment() ),
					esc_attr__( 'ScriptHammer player: the performance\'s recording', 'scripthammer' )
				);
			}
			$session = absint( get_post_meta( $post->ID, self::META_LIVE_SESSION, true ) );
			// No session yet: the post's scheduled broadcast counts down (and turns live by itself).
			$broadcast = $session > 0 ? 0 : absint( get_post_meta( $post->ID, Broadcasts::META_BROADCAST, true ) );
		}
		wp_enqueue_style( 'scripthammer-front' );
		$base = Settings::companion_public_url();
		if ( ( $session <= 0 && $broadcast <= 0 ) || '' === $base ) {
			return '<div class="scripthammer-player scripthammer-player--missing">' . esc_html__( 'This live player has no session chosen.', 'scripthammer' ) . '</div>';
		}
		$kind = $session > 0 ? 'live' : 'broadcast';
		$id   = $session > 0 ? $session : $broadcast;
		$src  = $base . '/embed/' . $kind . '/' . $id . self::listener_fragment();
		return sprintf(
			'<figure class="scripthammer-player scripthammer-live wp-block-scripthammer-live" data-kind="%4$s" data-companion-id="%1$d"><iframe src="%2$s" title="%3$s" width="100%%" height="360" allow="autoplay" referrerpolicy="no-referrer-when-downgrade"></iframe></figure>',
			$id,
			esc_url( $src ),
			'live' === $kind ? esc_attr__( 'ScriptHammer live player', 'scripthammer' ) : esc_attr__( 'ScriptHammer broadcast countdown', 'scripthammer' ),
			esc_attr( $kind )
		);
	}

	/**
	 * [scripthammer_tipjar amount=5].
	 *
	 * @param array<string,string>|string $atts Attributes.
	 */
	public function tipjar_shortcode( $atts ): string {
		$atts = shortcode_atts( array( 'amount' => 5 ), is_array( $atts ) ? $atts : array(), 'scripthammer_tipjar' );
		return $this->render_tipjar( array( 'amount' => (float) $atts['amount'] ) );
	}

	/**
	 * The player: the companion's embed page for the track or album, in an iframe.
	 *
	 * @param array<string,mixed> $attrs track / album post ids.
	 */
	public function render_player( $attrs ): string {
		$attrs = is_array( $attrs ) ? $attrs : array();
		$kind  = ! empty( $attrs['album'] ) ? 'album' : 'track';
		$post  = get_post( absint( 'album' === $kind ? $attrs['album'] : ( $attrs['track'] ?? 0 ) ) );
		$type  = 'album' === $kind ? PostTypes::ALBUM : PostTypes::TRACK;
		wp_enqueue_style( 'scripthammer-front' );
		if ( ! $post || $type !== $post->post_type ) {
			return '<div class="scripthammer-player scripthammer-player--missing">' . esc_html__( 'This player has no track or album chosen.', 'scripthammer' ) . '</div>';
		}
		$companion_id = (int) get_post_meta( $post->ID, PostTypes::META_COMPANION_ID, true );
		$base         = Settings::companion_public_url();
		if ( $companion_id <= 0 || '' === $base ) {
			return '<div class="scripthammer-player scripthammer-player--missing">' . esc_html__( 'This recording is not available yet.', 'scripthammer' ) . '</div>';
		}
		$height = 'album' === $kind ? 420 : 240;
		$src    = $base . '/embed/' . $kind . '/' . $companion_id . self::listener_fragment();
		return sprintf(
			'<figure class="scripthammer-player wp-block-scripthammer-player" data-kind="%1$s" data-companion-id="%2$d"><iframe src="%3$s" title="%4$s" width="100%%" height="%5$d" loading="lazy" allow="autoplay; encrypted-media" referrerpolicy="no-referrer-when-downgrade"></iframe></figure>',
			esc_attr( $kind ),
			$companion_id,
			esc_url( $src ),
			/* translators: %s: track or album title */
			esc_attr( sprintf( __( 'ScriptHammer player: %s', 'scripthammer' ), get_the_title( $post ) ) ),
			$height
		);
	}

	/**
	 * The embed's fragment (which browsers send to no server and put in no Referer):
	 * - for a signed-in user, "shl=<listener token>": the embed's player reads it, drops it from the
	 *   address, and shows the companion who is listening (anonymous visitors stay anonymous);
	 * - when the site asks for consent to statistics (Settings: analytics consent "required"),
	 *   "shc=1" or "shc=0": the visitor's consent as this page knew it (Consent::given()); the page's
	 *   consent script tells the player of later changes.
	 */
	public static function listener_fragment(): string {
		$parts  = array();
		$user   = wp_get_current_user();
		$secret = (string) Settings::get( 'shared_secret' );
		if ( $user && $user->exists() && '' !== $secret ) {
			$parts[] = 'shl=' . ( new Signer( $secret ) )->listener_token( (int) $user->ID, (string) $user->display_name, self::LISTENER_TOKEN_TTL );
		}
		if ( Consent::required() ) {
			Consent::enqueue();
			$parts[] = 'shc=' . ( Consent::given() ? '1' : '0' );
		}
		return $parts ? '#' . implode( '&', $parts ) : '';
	}

	/**
	 * The tip jar: a name-your-price form that adds the tip product to the cart, or a notice when
	 * WooCommerce is not active.
	 *
	 * @param array<string,mixed> $attrs amount (suggested).
	 */
	public function render_tipjar( $attrs ): string {
		wp_enqueue_style( 'scripthammer-front' );
		$attrs = is_array( $attrs ) ? $attrs : array();
		$tip   = (int) get_option( Commerce::TIP_OPTION, 0 );
		if ( ! Commerce::woocommerce_active() || $tip <= 0 || ! function_exists( 'wc_get_cart_url' ) ) {
			return '<div class="scripthammer-tipjar scripthammer-tipjar--unavailable">' . esc_html__( 'Tipping is unavailable right now.', 'scripthammer' ) . '</div>';
		}
		[ $min, $max ] = Commerce::tip_limits();
		$suggested     = min( $max, max( $min, (float) ( $attrs['amount'] ?? 5 ) ) );
		ob_start();
		?>
		<form class="scripthammer-tipjar" method="post" action="<?php echo esc_url( wc_get_cart_url() ); ?>">
			<label><?php esc_html_e( 'Tip the band', 'scripthammer' ); ?>
				<input type="number" name="<?php echo esc_attr( Commerce::AMOUNT_FIELD ); ?>" min="<?php echo esc_attr( (string) $min ); ?>" max="<?php echo esc_attr( (string) $max ); ?>" step="0.01" value="<?php echo esc_attr( (string) $suggested ); ?>" required />
			</label>
			<input type="hidden" name="add-to-cart" value="<?php echo esc_attr( (string) $tip ); ?>" />
			<button type="submit"><?php esc_html_e( 'Send tip', 'scripthammer' ); ?></button>
		</form>
		<?php
		return (string) ob_get_clean();
	}

	/**
	 * "Buy": the item's release product (made when the companion published it), name-your-price above its
	 * minimum; '' when there is none or WooCommerce is off.
	 *
	 * @param int $post_id The track or album post.
	 */
	public static function buy_form( int $post_id ): string {
		$product = (int) get_post_meta( $post_id, ReleaseProducts::PRODUCT_ON_POST, true );
		$limits  = Amounts::limits( $product );
		if ( ! Commerce::woocommerce_active() || null === $limits || 'publish' !== get_post_status( $product ) || ! function_exists( 'wc_get_cart_url' ) ) {
			return '';
		}
		[ $min, $max ] = $limits;
		ob_start();
		?>
		<form class="scripthammer-buy" method="post" action="<?php echo esc_url( wc_get_cart_url() ); ?>" data-product="<?php echo esc_attr( (string) $product ); ?>">
			<label><?php esc_html_e( 'Buy — name your price', 'scripthammer' ); ?>
				<input type="number" name="<?php echo esc_attr( Amounts::FIELD ); ?>" min="<?php echo esc_attr( number_format( $min, 2, '.', '' ) ); ?>" max="<?php echo esc_attr( number_format( $max, 2, '.', '' ) ); ?>" step="0.01" value="<?php echo esc_attr( number_format( $min, 2, '.', '' ) ); ?>" required />
			</label>
			<input type="hidden" name="add-to-cart" value="<?php echo esc_attr( (string) $product ); ?>" />
			<button type="submit"><?php esc_html_e( 'Buy', 'scripthammer' ); ?></button>
		</form>
		<?php
		return (string) ob_get_clean();
	}

	/**
	 * A track's or album's own page shows the player above its text (unless the text has one).
	 *
	 * @param string $content Post content.
	 */
	public function append_player( $content ) {
		$post = get_post();
		if ( ! $post || ! is_singular( array( PostTypes::TRACK, PostTypes::ALBUM ) ) || ! in_the_loop() || ! is_main_query() ) {
			return $content;
		}
		if ( has_block( self::PLAYER, $post ) || has_shortcode( (string) $content, 'scripthammer_player' ) ) {
			return $content;
		}
		$attrs = PostTypes::ALBUM === $post->post_type ? array( 'album' => $post->ID ) : array( 'track' => $post->ID );
		return $this->render_player( $attrs ) . self::buy_form( (int) $post->ID ) . $content;
	}
}
