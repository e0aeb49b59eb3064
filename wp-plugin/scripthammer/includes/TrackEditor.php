<?php
/**
 * The track editor's "Recording" box: upload straight to the companion, progress, renditions,
 * loudness and waveform. The file never passes through PHP: the browser sends it to the companion
 * with a short-lived upload token this site signs.
 *
 * @package ScriptHammer
 */

namespace ScriptHammer;

defined( 'ABSPATH' ) || exit;

/**
 * Meta box and its script, on the track edit screen only.
 */
final class TrackEditor {

	/**
	 * Tracks use the classic editor: the screen is about the recording, and the box stays in view.
	 *
	 * @param bool   $use       Use the block editor.
	 * @param string $post_type Post type.
	 */
	public static function use_block_editor( $use, $post_type ) {
		return PostTypes::TRACK === $post_type ? false : $use;
	}

	/**
	 * Add the box (on add_meta_boxes_sh_track).
	 */
	public function add_meta_box(): void {
		add_meta_box( 'scripthammer-recording', __( 'Recording', 'scripthammer' ), array( $this, 'render' ), PostTypes::TRACK, 'normal', 'high' );
		add_meta_box( 'scripthammer-release', __( 'Release', 'scripthammer' ), array( $this, 'render_release' ), PostTypes::TRACK, 'side', 'default' );
	}

	/**
	 * The recording box.
	 *
	 * @param \WP_Post $post The track.
	 */
	public function render( $post ): void {
		$companion_id = (int) get_post_meta( $post->ID, PostTypes::META_COMPANION_ID, true );
		?>
		<div id="scripthammer-recording-box" data-post="<?php echo esc_attr( (string) $post->ID ); ?>" data-companion-id="<?php echo esc_attr( (string) $companion_id ); ?>">
			<?php if ( current_user_can( Roles::CAP_UPLOAD ) ) : ?>
				<p>
					<label for="scripthammer-file"><?php esc_html_e( 'Recording (WAV, AIFF, FLAC, MP3, Ogg, M4A)', 'scripthammer' ); ?></label><br />
					<input type="file" id="scripthammer-file" accept="audio/*,.wav,.aif,.aiff,.flac,.mp3,.ogg,.opus,.m4a" />
					<button type="button" class="button button-primary" id="scripthammer-upload"><?php esc_html_e( 'Upload to the companion', 'scripthammer' ); ?></button>
				</p>
			<?php else : ?>
				<p><?php esc_html_e( 'You may not upload recordings.', 'scripthammer' ); ?></p>
			<?php endif; ?>
			<div class="scripthammer-progress" hidden><progress id="scripthammer-progress" max="100" value="0"></progress> <span id="scripthammer-progress-text"></span></div>
			<div id="scripthammer-message" class="scripthammer-message" role="status" aria-live="polite"></div>
			<canvas id="scripthammer-waveform" width="800" height="90" hidden></canvas>
			<p id="scripthammer-loudness"></p>
			<table class="widefat striped" id="scripthammer-renditions" hidden>
				<thead><tr>
					<th><?php esc_html_e( 'Rendition', 'scripthammer' ); ?></th>
					<th><?php esc_html_e( 'Codec', 'scripthammer' ); ?></th>
					<th><?php esc_html_e( 'Bitrate', 'scripthammer' ); ?></th>
					<th><?php esc_html_e( 'Size', 'scripthammer' ); ?></th>
				</tr></thead>
				<tbody></tbody>
			</table>
		</div>
		<?php
	}

	/**
	 * The release box: release state (saved with the post, nonce-checked).
	 *
	 * @param \WP_Post $post The track.
	 */
	public function render_release( $post ): void {
		$state = (string) get_post_meta( $post->ID, PostTypes::META_RELEASE, true );
		$may   = PostTypes::may_write_meta( false, PostTypes::META_RELEASE, (int) $post->ID, get_current_user_id() );
		wp_nonce_field( 'scripthammer_release_' . $post->ID, 'scripthammer_release_nonce' );
		echo '<label for="scripthammer-release-state">' . esc_html__( 'Release state', 'scripthammer' ) . '</label> <select id="scripthammer-release-state" name="scripthammer_release_state"' . ( $may ? '' : ' disabled' ) . '>';
		foreach ( PostTypes::RELEASE_STATES as $option ) {
			printf( '<option value="%1$s"%2$s>%1$s</option>', esc_attr( $option ), selected( $state ? $state : 'draft', $option, false ) );
		}
		echo '</select>';
		$this->render_publish( $post );
	}

	/**
	 * "Publish to site": the companion publishes the track here (the post, its meta, cover and release);
	 * the editor sees the job's progress and where the track stands.
	 *
	 * @param \WP_Post $post The track.
	 */
	private function render_publish( $post ): void {
		?>
		<div id="scripthammer-publish-box" class="scripthammer-publish" data-post="<?php echo esc_attr( (string) $post->ID ); ?>">
			<p><strong><?php esc_html_e( 'On the site', 'scripthammer' ); ?></strong></p>
			<p id="scripthammer-publication" class="scripthammer-publication" data-state="" role="status" aria-live="polite"><?php esc_html_e( 'Not published yet.', 'scripthammer' ); ?></p>
			<?php if ( current_user_can( Roles::CAP_PUBLISH ) && current_user_can( 'publish_post', $post->ID ) ) : ?>
				<p>
					<button type="button" class="button button-primary" id="scripthammer-publish" data-action="publish"><?php esc_html_e( 'Publish to site', 'scripthammer' ); ?></button>
					<button type="button" class="button" id="scripthammer-unpublish" data-action="unpublish" hidden><?php esc_html_e( 'Unpublish', 'scripthammer' ); ?></button>
				</p>
				<p class="description"><?php esc_html_e( 'The companion publishes the track with its recording, cover and player; a draft track is released (public).', 'scripthammer' ); ?></p>
				<div class="scripthammer-publish-progress" hidden><progress id="scripthammer-publish-progress" max="100" value="0"></progress> <span id="scripthammer-publish-progress-text"></span></div>
			<?php endif; ?>
		</div>
		<?php
	}

	/**
	 * Save the release state (on save_post_sh_track): nonce checked, and only for users with
	 * scripthammer_manage (the same rule as every scripthammer_* meta).
	 *
	 * @param int $post_id The track.
	 */
	public function save( $post_id ): void {
		if ( ! isset( $_POST['scripthammer_release_nonce'], $_POST['scripthammer_release_state'] ) ) {
			return;
		}
		if ( ! wp_verify_nonce( sanitize_text_field( wp_unslash( $_POST['scripthammer_release_nonce'] ) ), 'scripthammer_release_' . $post_id ) ) {
			return;
		}
		// Like every scripthammer_* meta: only users with scripthammer_manage write it.
		if ( ( defined( 'DOING_AUTOSAVE' ) && DOING_AUTOSAVE ) || ! PostTypes::may_write_meta( false, PostTypes::META_RELEASE, (int) $post_id, get_current_user_id() ) ) {
			return;
		}
		update_post_meta( $post_id, PostTypes::META_RELEASE, PostTypes::sanitize_release_state( sanitize_text_field( wp_unslash( $_POST['scripthammer_release_state'] ) ) ) );
	}

	/**
	 * Enqueue the editor script on the track edit screens only.
	 *
	 * @param string $hook The admin page.
	 */
	public function enqueue( $hook ): void {
		$screen = function_exists( 'get_current_screen' ) ? get_current_screen() : null;
		if ( ! in_array( $hook, array( 'post.php', 'post-new.php' ), true ) || ! $screen || PostTypes::TRACK !== $screen->post_type ) {
			return;
		}
		wp_enqueue_style( 'scripthammer-admin', plugins_url( 'assets/css/admin.css', SCRIPTHAMMER_FILE ), array(), SCRIPTHAMMER_VERSION );
		wp_enqueue_script( 'scripthammer-track-editor', plugins_url( 'assets/js/track-editor.js', SCRIPTHAMMER_FILE ), array(), SCRIPTHAMMER_VERSION, true );
		wp_localize_script(
			'scripthammer-track-editor',
			'ScriptHammerEditor',
			array(
				'root'  => esc_url_raw( rest_url( RestApi::NAMESPACE . '/' ) ),
				'nonce' => wp_create_nonce( 'wp_rest' ),
				'i18n'  => array(
					'choose'     => __( 'Choose a recording first.', 'scripthammer' ),
					'preparing'  => __( 'Preparing the upload…', 'scripthammer' ),
					'uploading'  => __( 'Uploading', 'scripthammer' ),
					'processing' => __( 'The companion is processing the recording', 'scripthammer' ),
					'queued'     => __( 'Waiting for a worker', 'scripthammer' ),
					'ready'      => __( 'Ready: the renditions are below.', 'scripthammer' ),
					'failed'     => __( 'Processing failed:', 'scripthammer' ),
					'network'    => __( 'The companion could not be reached from this browser. Check that it is running and that its URL for browsers is right in Settings → ScriptHammer.', 'scripthammer' ),
					'loudness'   => __( 'Loudness', 'scripthammer' ),
					'truePeak'   => __( 'true peak', 'scripthammer' ),
					'pub'        => array(
						'never'      => __( 'Not published yet.', 'scripthammer' ),
						'queued'     => __( 'Waiting for the companion to publish…', 'scripthammer' ),
						'publishing' => __( 'Publishing…', 'scripthammer' ),
						'published'  => __( 'Published on the site.', 'scripthammer' ),
						'draft'      => __( 'Unpublished: the page is a draft.', 'scripthammer' ),
						'retrying'   => __( 'Publishing failed, the companion will try again:', 'scripthammer' ),
						'failed'     => __( 'Publishing failed:', 'scripthammer' ),
						'view'       => __( 'View the page', 'scripthammer' ),
						'working'    => __( 'Publishing', 'scripthammer' ),
						'reload'     => __( 'Reload this screen before saving, so that the status box shows the new status.', 'scripthammer' ),
					),
				),
			)
		);
	}
}
