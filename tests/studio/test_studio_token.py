"""The studio token WordPress mints at "Open in studio" (Signer::studio_token in PHP) signs a band member
in to the companion: read here from a token the plugin's own PHP minted, refused when forged or late."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from companion.band.signing import RequestSignatureError, make_studio_token, read_studio_token
from tests.conftest import IN_CI

PLUGIN = Path(__file__).resolve().parents[2] / "wp-plugin" / "scripthammer" / "includes"


def _php_mint(tmp_path, secret, member, ttl=600, now="null"):
    php = shutil.which("php")
    if php is None:
        if IN_CI:
            pytest.fail("php is not installed")
        pytest.skip("php is not installed")
    script = tmp_path / "mint.php"
    script.write_text(f"""<?php
define( 'ABSPATH', __DIR__ . '/' );
require {str(PLUGIN / 'Autoloader.php')!r};
\\ScriptHammer\\Autoloader::register( {str(PLUGIN)!r} );
echo ( new \\ScriptHammer\\Signer( {secret!r} ) )->studio_token( {member!r}, {ttl}, 'crash_wp', {now} );
""")
    return subprocess.run([php, str(script)], capture_output=True, text=True, check=True).stdout.strip()


def test_a_token_minted_by_the_plugin_is_read_by_the_companion(tmp_path):
    token = _php_mint(tmp_path, "s3cret", "crash")
    claims = read_studio_token("s3cret", token)
    assert claims["member"] == "crash" and claims["user"] == "crash_wp"
    with pytest.raises(RequestSignatureError) as other:
        read_studio_token("other", token)
    assert other.value.code == "studio_token_invalid"
    late = _php_mint(tmp_path, "s3cret", "crash", ttl=60, now=1_700_000_000)
    with pytest.raises(RequestSignatureError) as exp:
        read_studio_token("s3cret", late)
    assert exp.value.code == "token_expired"
    # a listener token's body under a studio prefix does not pass: the prefix is inside the MAC
    forged = "shmst." + token.split(".", 1)[1].rsplit(".", 1)[0] + "." + "0" * 64
    with pytest.raises(RequestSignatureError):
        read_studio_token("s3cret", forged)
    assert make_studio_token("s3cret", "crash").startswith("shmst.")


def test_the_studio_signs_in_the_member_the_token_names(live, pages):
    cid = live.make_song()
    tok = make_studio_token(live.config.wp_shared_secret, "crash", user="crash_wp")
    client = live.app.test_client()
    m = client.get(f"/api/studio/{cid}/model", headers={"Authorization": f"Bearer {tok}"}).get_json()
    assert m["identity"]["id"] == "crash" and [p["editable"] for p in m["parts"]] == [False, True, False]
    page = pages.open(cid, tok)
    assert page.text_content("#who") == "Crash (member)"
    # a token naming no band member, and a forged one: a clear message, not an editor
    bad = make_studio_token(live.config.wp_shared_secret, "nobody")
    r = client.get(f"/api/studio/{cid}/model", headers={"Authorization": f"Bearer {bad}"})
    assert r.status_code == 401 and r.get_json()["code"] == "studio_token_invalid"
    page = pages.open(cid, make_studio_token("not-the-secret", "ivory"))
    assert page.evaluate("document.getElementById('status').dataset.code") == "studio_token_invalid"
