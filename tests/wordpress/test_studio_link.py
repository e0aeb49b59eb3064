"""Opening the studio from a real WordPress as a band member: the composition's edit screen has an
"Open in studio" link; the click mints a short-lived studio token for the member the site owner
mapped the user to, and the studio opens on the companion, signed in as that member."""
from __future__ import annotations

import json
import uuid


from tests.studio.conftest import PARTS, build_studio


def _composition(companion) -> str:

    from companion.compositions import service as S
    from companion.compositions.rights import member_actor
    from companion.compositions.store import Store

    band = companion.svc.band
    cid = f"wp-studio-{uuid.uuid4().hex[:6]}"
    store = Store(companion.config.compositions_dir)
    r = S.create_composition(store, band, member_actor(band, "ivory"), "From WordPress", comp_id=cid, parts=PARTS,
                             measures=4)
    S.commit_change(store, band, member_actor(band, "ivory"), cid, "main", r["head"], "Piano",
                    {"parts": {"piano": {"measures": {"1": "0 C4 1 v80 ; 1 E4 1 v80"}}}})

    return cid


def _user(wordpress, login, password, role, member=None) -> int:
    return wordpress.php(f"""
$id = wp_insert_user( array( 'user_login' => {json.dumps(login)}, 'user_pass' => {json.dumps(password)},
  'user_email' => {json.dumps(login + '@scripthammer.test')}, 'role' => {json.dumps(role)} ) );
if ( is_wp_error( $id ) ) {{ throw new Exception( $id->get_error_message() ); }}
$member = {json.dumps(member)};
if ( $member ) {{
  $map = get_option( \\ScriptHammer\\Roles::MAP_OPTION, array() );
  $map[ $member ] = $id;
  update_option( \\ScriptHammer\\Roles::MAP_OPTION, $map );
}}
return $id;""")


def _login(page, wordpress, login, password):
    page.goto(f"{wordpress.url}/wp-login.php")
    page.fill("#user_login", login)
    page.fill("#user_pass", password)
    page.click("#wp-submit")
    page.wait_for_url("**/wp-admin/**")


def test_open_in_studio_from_wordpress_as_a_member(wordpress, companion, browser, artifacts):
    build_studio()
    cid = _composition(companion)
    suffix = uuid.uuid4().hex[:6]
    password = "pw-" + uuid.uuid4().hex
    crash = _user(wordpress, f"crash_{suffix}", password, "scripthammer_member", member="crash")
    _user(wordpress, f"editor_{suffix}", password, "editor")  # may edit the post, mapped to no band member
    post = wordpress.php(f"""
$id = wp_insert_post( array( 'post_type' => 'sh_composition', 'post_title' => 'From WordPress',
  'post_status' => 'draft', 'post_author' => {crash} ) );
update_post_meta( $id, \\ScriptHammer\\StudioLink::META, {json.dumps(cid)} );
return $id;""")
    context = browser.new_context(viewport={"width": 1024, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _login(page, wordpress, f"crash_{suffix}", password)
    page.goto(f"{wordpress.url}/wp-admin/post.php?post={post}&action=edit")
    link = page.locator("#scripthammer-open-studio")
    if not link.is_visible():
        page.screenshot(path=str(artifacts / "studio-link-missing.png"))
        raise AssertionError(page.text_content("body")[:2000])
    href = link.get_attribute("href")
    assert "_wpnonce=" in href and "shmst." not in page.content()  # the token is minted at the click only
    with context.expect_page() as popup:
        link.click()
    studio = popup.value
    studio.wait_for_function("['ready', 'error'].includes((document.getElementById('studio') || {dataset: {}})"
                             ".dataset.state)", timeout=60000)
    assert studio.url.startswith(f"{companion.url}/studio/{cid}")
    assert "token=" not in studio.url  # read from the fragment, then dropped from the address bar
    assert studio.text_content("#who") == "Crash (member)"
    assert studio.evaluate("studio.model.parts.map(p => [p.id, p.editable])") == [
        ["piano", False], ["bass", True], ["guitar", False]]
    studio.screenshot(path=str(artifacts / "studio-from-wordpress.png"))
    # the handler refuses without its nonce, and for a user mapped to no band member
    r = page.request.get(f"{wordpress.url}/wp-admin/admin-post.php?action=scripthammer_studio&composition={cid}",
                         max_redirects=0)
    assert r.status in (403, 400) or "expired" in r.text()
    other = browser.new_context()
    p2 = other.new_page()
    _login(p2, wordpress, f"editor_{suffix}", password)
    p2.goto(f"{wordpress.url}/wp-admin/post.php?post={post}&action=edit")
    assert p2.locator("#scripthammer-open-studio").count() == 0
    assert "Only band members" in p2.text_content("#scripthammer-studio")
    forged = p2.request.get(href, max_redirects=0)  # crash's link: another user's nonce does not hold
    assert forged.status in (403, 400)
    other.close()
    context.close()
    assert errors == []
    assert not wordpress.plugin_problems(), wordpress.plugin_problems()


def test_a_members_buddypress_profile_opens_the_studio_home(bp, companion, browser, artifacts):
    """On their own BuddyPress profile a band member has "Open in studio": it signs them in and opens
    the studio's home, the compositions they may open, each leading to its studio; on someone else's
    profile, or for a user who is no band member, there is no button."""
    build_studio()
    cid = _composition(companion)
    suffix = uuid.uuid4().hex[:6]
    password = "pw-" + uuid.uuid4().hex
    crash = _user(bp, f"crash_bp_{suffix}", password, "scripthammer_member", member="crash")
    editor = _user(bp, f"editor_bp_{suffix}", password, "editor")
    profile = {uid: bp.php(f"return bp_members_get_user_url( {uid} );") for uid in (crash, editor)}
    context = browser.new_context(viewport={"width": 1024, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _login(page, bp, f"crash_bp_{suffix}", password)
    page.goto(profile[editor])
    assert page.locator("#scripthammer-profile-studio").count() == 0  # not on another user's profile
    page.goto(profile[crash])
    with context.expect_page() as popup:
        page.click("#scripthammer-profile-studio")
    studio = popup.value
    studio.wait_for_function("['ready', 'error'].includes((document.getElementById('studio') || {dataset: {}})"
                             ".dataset.state)", timeout=60000)
    assert studio.url == f"{companion.url}/studio/"
    assert studio.text_content("#who") == "Crash (member)"
    assert cid in studio.eval_on_selector_all("#compositions a", "as => as.map(a => a.dataset.composition)")
    studio.screenshot(path=str(artifacts / "studio-home-from-buddypress.png"))
    studio.click(f"#compositions a[data-composition='{cid}']")
    studio.wait_for_function("(document.getElementById('studio') || {dataset: {}}).dataset.state === 'ready' && "
                             "window.studio && studio.model", timeout=60000)
    assert studio.url == f"{companion.url}/studio/{cid}"
    assert studio.evaluate("studio.model.parts.map(p => [p.id, p.editable])") == [
        ["piano", False], ["bass", True], ["guitar", False]]
    other = browser.new_context()
    p2 = other.new_page()
    _login(p2, bp, f"editor_bp_{suffix}", password)
    p2.goto(profile[editor])
    assert p2.locator("#scripthammer-profile-studio").count() == 0  # no band member: no button
    other.close()
    context.close()
    assert errors == []
