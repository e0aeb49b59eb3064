<?php
/**
 * Player and tip-jar blocks and shortcodes ([scripthammer_player track=ID], [scripthammer_player album=ID],
 * [scripthammer_tipjar]). Their assets are enqueued only when one of them renders.
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
		add_shortcode( 'scripthammer_player', array( $this, 'player_shortcode' ) );
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
		$src    = $base . '/embed/' . $kind . '/' . $companion_id;
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
		return $this->render_player( $attrs ) . $content;
	}
}
