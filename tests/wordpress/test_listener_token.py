"""The plugin's listener tokens (Signer::listener_token in PHP) are what the companion reads: the shared
vector in tests/wordpress/phpunit/SignerTest.php, and a token minted by the plugin on the fly."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from companion.access.tokens import read_listener_token
from companion.errors import Unauthorized
from tests.conftest import IN_CI

VECTOR = ("shmls.eyJ1Ijo0MiwiZXhwIjoxNzAwMDAxODAwLCJuIjoiYWJjZGVmZ2hpamtsbW5vcDEyMzQiLCJubSI6IkZhbiDDnG7Dr2NvZGUg"
          "LyBcInF1b3RlZFwiIiwiaWF0IjoxNzAwMDAwMDAwfQ.42558191d274754d4b5e8a40cefb8313ef666329059b18d1461171cfd377c896")
#: a token minted before tokens said when they were minted ("iat"): still read, as minted an hour before it ends
OLD_VECTOR = ("shmls.eyJ1Ijo0MiwiZXhwIjoxNzAwMDAxODAwLCJuIjoiYWJjZGVmZ2hpamtsbW5vcDEyMzQiLCJubSI6IkZhbiDDnG7Dr2NvZGUg"
              "LyBcInF1b3RlZFwiIn0.7e9273b28537d22d62abe12e4584dfac8eb84b14cc5d0305145a671b3b24c0fb")
PLUGIN = Path(__file__).resolve().parents[2] / "wp-plugin" / "scripthammer" / "includes"


def test_the_shared_vector_is_accepted_by_the_companion():
    assert read_listener_token("s3cret", VECTOR, now=1700000000) == {
        "wp_user_id": 42, "exp": 1700001800, "display_name": 'Fan Ünïcode / "quoted"', "iat": 1700000000}
    assert read_listener_token("s3cret", OLD_VECTOR, now=1700000000)["iat"] == 1700001800 - 3600
    with pytest.raises(Unauthorized) as other:
        read_listener_token("other-secret", VECTOR, now=1700000000)
    assert other.value.code == "listener_token_invalid"
    with pytest.raises(Unauthorized) as late:
        read_listener_token("s3cret", VECTOR, now=1700001801)
    assert late.value.code == "listener_token_expired"
    tampered = VECTOR.replace("eyJ1Ijo0Mi", "eyJ1Ijo0My")  # "u": 43
    with pytest.raises(Unauthorized):
        read_listener_token("s3cret", tampered, now=1700000000)


def test_a_token_minted_by_the_plugin_now_is_read_by_the_companion(tmp_path):
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
echo ( new \\ScriptHammer\\Signer( 'live-secret' ) )->listener_token( 1234, 'Ivy', 600 );
""")
    token = subprocess.run([php, str(script)], capture_output=True, text=True, check=True).stdout.strip()
    claims = read_listener_token("live-secret", token)
    assert claims["wp_user_id"] == 1234 and claims["display_name"] == "Ivy"
