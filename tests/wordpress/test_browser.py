"""wp-admin and the public site in Chromium: an upload from the track editor goes straight to the
companion and shows progress, renditions, loudness and the waveform; screenshots of the track list
and of the track's public page with the player; the player block and shortcode render."""
from __future__ import annotations

import requests

from tests.conftest import make_audio

from .conftest import ADMIN_PASS, ADMIN_USER


def _login(page, wordpress):
    page.goto(f"{wordpress.url}/wp-login.php")
    page.fill("#user_login", ADMIN_USER)
    page.fill("#user_pass", ADMIN_PASS)
    page.click("#wp-submit")
    page.wait_for_url("**/wp-admin/**")


def _not_blank(png: bytes) -> bool:
    import io

    from PIL import Image, ImageStat

    img = Image.open(io.BytesIO(png)).convert("L")
    return img.size[0] >= 800 and ImageStat.Stat(img).stddev[0] > 5


def test_upload_from_the_track_editor(wordpress, companion, companion_worker, browser, tmp_path, artifacts):
    audio = make_audio(tmp_path / "cosmic-rhythm-cycle.wav", 4.0)
    junk = tmp_path / "not-a-song.wav"
    junk.write_text("these are words, not audio " * 200)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _login(page, wordpress)
    page.goto(f"{wordpress.url}/wp-admin/post-new.php?post_type=sh_track")
    page.fill("#title", "Cosmic Rhythm Cycle")
    page.click("#save-post")
    page.wait_for_selector("#scripthammer-recording-box")
    post_id = int(page.get_attribute("#scripthammer-recording-box", "data-post"))

    # A file that is not audio: the companion's reason, in words, and nothing queued.
    page.set_input_files("#scripthammer-file", str(junk))
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.click("#scripthammer-upload")
    try:
        page.wait_for_selector(".scripthammer-message--error", timeout=60000)
    except Exception as exc:  # say what the editor showed instead
        raise AssertionError(f"no error shown: {page.inner_text('#scripthammer-message')!r} {console} {errors}") from exc
    message = page.inner_text("#scripthammer-message")
    assert "HTTP" not in message and len(message) > 20, message

    # The real recording: uploaded to the companion, processed by the worker, shown here.
    page.set_input_files("#scripthammer-file", str(audio))
    page.click("#scripthammer-upload")
    page.wait_for_function("document.querySelectorAll('#scripthammer-renditions tbody tr').length >= 3",
                           timeout=180000)
    page.wait_for_selector("#scripthammer-waveform:not([hidden])", timeout=30000)
    assert "Ready" in page.inner_text("#scripthammer-message")
    assert "LUFS" in page.inner_text("#scripthammer-loudness")
    assert int(page.get_attribute("#scripthammer-waveform", "data-points")) > 10
    rows = page.locator("#scripthammer-renditions tbody tr").all_inner_texts()
    assert any("mp3-320" in r and "320 kbps" in r for r in rows), rows
    assert all(("KB" in r or "MB" in r) for r in rows), rows
    assert page.get_attribute("#scripthammer-progress", "value") == "100"
    assert errors == []
    page.screenshot(path=str(artifacts / "track-editor.png"), full_page=True)

    # The companion has the track with the recording; the post knows its companion id.
    companion_id = int(wordpress.php(f"return get_post_meta( {post_id}, 'scripthammer_companion_id', true );"))
    track = requests.get(f"{companion.url}/api/tracks/{companion_id}", timeout=30,
                         headers={"Authorization": f"Bearer {companion.tokens['ivory']}"}).json()
    assert track["status"] == "ready" and track["title"] == "Cosmic Rhythm Cycle"
    assert track["source_format"]

    # The wp-admin track list, with the audio status column.
    page.goto(f"{wordpress.url}/wp-admin/edit.php?post_type=sh_track")
    row = page.locator(f"#post-{post_id}")
    assert "Cosmic Rhythm Cycle" in row.inner_text() and "ready" in row.inner_text()
    shot = page.screenshot(path=str(artifacts / "wp-admin-track-list.png"), full_page=True)
    assert _not_blank(shot)

    # "Publish to site" in the track editor: the plugin asks the companion (signed) to publish this post;
    # the track, a draft on the companion, is released (public) so that its page's player plays it.
    page.goto(f"{wordpress.url}/wp-admin/post.php?post={post_id}&action=edit")
    page.wait_for_selector("#scripthammer-publication[data-state='never']")
    assert page.is_hidden("#scripthammer-unpublish")
    page.click("#scripthammer-publish")
    page.wait_for_selector("#scripthammer-publication[data-state='published']", timeout=60000)
    assert page.get_attribute("#scripthammer-publish-progress", "value") == "100"
    link = page.get_attribute("#scripthammer-publication-link", "href")
    assert page.is_visible("#scripthammer-unpublish") and errors == []
    page.wait_for_function("document.getElementById('scripthammer-release-state').value === 'public'")
    page.screenshot(path=str(artifacts / "track-editor-published.png"), full_page=True)
    headers = {"Authorization": f"Bearer {companion.tokens['ivory']}"}
    pub = requests.get(f"{companion.url}/api/tracks/{companion_id}/publication", timeout=30, headers=headers).json()
    assert pub["wp_post_id"] == post_id and pub["wp_status"] == "publish"  # the editor's post, not a new one
    assert pub["wp_link"] == link
    assert requests.get(f"{companion.url}/api/tracks/{companion_id}", timeout=30,
                        headers=headers).json()["release_state"] == "public"
    fan = browser.new_context(viewport={"width": 1280, "height": 1000})
    public = fan.new_page()
    public.goto(pub["wp_link"])
    frame_el = public.wait_for_selector("figure.scripthammer-player iframe")
    assert frame_el.get_attribute("src") == f"{companion.url}/embed/track/{companion_id}"
    frame = frame_el.content_frame()
    frame.wait_for_load_state("load")
    assert "Cosmic Rhythm Cycle" in frame.content()
    # The player bundle has drawn itself inside the embed page.
    frame.wait_for_function("document.querySelector('#player') && document.querySelector('#player').children.length > 0"
                            " && document.querySelector('#player').getBoundingClientRect().height > 50", timeout=20000)
    frame_el.scroll_into_view_if_needed()
    public.wait_for_timeout(500)
    shot = public.screenshot(path=str(artifacts / "track-public-page.png"), full_page=True)
    assert _not_blank(shot)
    assert "Cosmic Rhythm Cycle" in public.title()
    fan.close()
    context.close()


def test_publish_to_site_needs_the_right(wordpress, companion):
    """The editor's publish proxy: capability-checked, and a track without a recording is explained."""
    ids = wordpress.php("""$t = wp_insert_post( array( 'post_type' => 'sh_track', 'post_status' => 'draft', 'post_title' => 'No recording yet' ) );
$m = wp_insert_user( array( 'user_login' => 'member-' . wp_generate_password( 6, false ), 'user_pass' => wp_generate_password(),
  'role' => 'scripthammer_member' ) );
return array( 'track' => $t, 'member' => $m );""")
    route = f"/scripthammer/v1/editor/tracks/{ids['track']}/publication"
    call = ("$r = new WP_REST_Request( 'POST', '" + route + "' ); $r->set_param( 'action', 'publish' );"
            " $res = rest_do_request( $r ); return array( $res->get_status(), $res->get_data() );")
    status, body = wordpress.php(call, user=ids["member"])  # a band member may upload, not publish
    assert status == 403, body
    status, body = wordpress.php(call)  # the admin may, but the companion has no such track yet
    assert status == 409 and "Upload a recording first" in body["message"], body
    status, body = wordpress.php("$res = rest_do_request( new WP_REST_Request( 'GET', '" + route + "' ) );"
                                 " return array( $res->get_status(), $res->get_data() );")
    assert status == 200 and body["state"] == "never", body


def test_player_block_and_shortcode_render(wordpress, companion):
    post = wordpress.php("""$t = wp_insert_post( array( 'post_type' => 'sh_track', 'post_status' => 'publish', 'post_title' => 'Block check' ) );
update_post_meta( $t, 'scripthammer_companion_id', 4242 );
$a = wp_insert_post( array( 'post_type' => 'sh_album', 'post_status' => 'publish', 'post_title' => 'Album check' ) );
update_post_meta( $a, 'scripthammer_companion_id', 77 );
$with = wp_insert_post( array( 'post_type' => 'page', 'post_status' => 'publish', 'post_title' => 'Listen',
  'post_content' => '<!-- wp:scripthammer/player {"track":' . $t . '} /-->' . "\\n\\n" . '[scripthammer_player album=' . $a . ']' ) );
$without = wp_insert_post( array( 'post_type' => 'page', 'post_status' => 'publish', 'post_title' => 'Plain', 'post_content' => 'Nothing here.' ) );
$live = wp_insert_post( array( 'post_type' => 'page', 'post_status' => 'publish', 'post_title' => 'Live',
  'post_content' => '<!-- wp:scripthammer/live {"session":31} /-->' ) );
$perf = wp_insert_post( array( 'post_type' => 'sh_performance', 'post_status' => 'publish', 'post_title' => 'Tonight',
  'post_content' => '[scripthammer_live]' ) );
update_post_meta( $perf, 'scripthammer_live_session', 32 );
$unset = wp_insert_post( array( 'post_type' => 'sh_performance', 'post_status' => 'publish', 'post_title' => 'Unset',
  'post_content' => '[scripthammer_live session=abc]' ) );
return array( 'with' => $with, 'without' => $without, 'track' => $t, 'live' => $live, 'perf' => $perf, 'unset' => $unset );""")
    html = requests.get(f"{wordpress.url}/?page_id={post['with']}", timeout=60).text
    assert f'src="{companion.url}/embed/track/4242"' in html
    assert f'src="{companion.url}/embed/album/77"' in html
    assert "scripthammer-front-css" in html  # assets only where used...
    plain = requests.get(f"{wordpress.url}/?page_id={post['without']}", timeout=60).text
    assert "scripthammer-front-css" not in plain and "scripthammer-player" not in plain  # ...not elsewhere
    # The live player: a block with a session, a performance post's own session, none at all.
    live = requests.get(f"{wordpress.url}/?page_id={post['live']}", timeout=60).text
    assert f'src="{companion.url}/embed/live/31"' in live
    perf = requests.get(f"{wordpress.url}/?p={post['perf']}&post_type=sh_performance", timeout=60).text
    assert f'src="{companion.url}/embed/live/32"' in perf
    unset = requests.get(f"{wordpress.url}/?p={post['unset']}&post_type=sh_performance", timeout=60).text
    assert "has no session chosen" in unset and "/embed/live/" not in unset
    # The block editor can render it server-side too (the block's REST renderer).
    s = wordpress.admin_session()
    nonce = {"X-WP-Nonce": _rest_nonce(s, wordpress)}
    types = s.get(wordpress.rest_url("/wp/v2/block-types/scripthammer"), timeout=30, headers=nonce).json()
    assert {t["name"] for t in types} == {"scripthammer/player", "scripthammer/live", "scripthammer/tip-jar"}
    rendered = s.get(wordpress.rest_url(f"/wp/v2/block-renderer/scripthammer/player?context=edit&attributes[track]={post['track']}"),
                     timeout=30, headers=nonce).json()
    assert f"{companion.url}/embed/track/4242" in rendered["rendered"]
    rendered = s.get(wordpress.rest_url("/wp/v2/block-renderer/scripthammer/live?context=edit&attributes[session]=31"),
                     timeout=30, headers=nonce).json()
    assert f"{companion.url}/embed/live/31" in rendered["rendered"]
    assert wordpress.plugin_problems() == []


def _rest_nonce(session, wordpress) -> str:
    return session.get(f"{wordpress.url}/wp-admin/admin-ajax.php?action=rest-nonce", timeout=30).text.strip()
