"""A clock skew of up to five minutes between WordPress and the companion: signed calls inside the
window work, those outside it are refused (401 signature_expired), either way round. The Python signer
with explicit timestamps (WordPress's clock ahead or behind) against a real companion on a live port."""
from __future__ import annotations

import time

import pytest
import requests

from companion.band.signing import WINDOW_SECONDS, sign
from tests.conftest import serving


@pytest.fixture
def live(app):
    with serving(app) as url:
        yield url, app.config["SCRIPTHAMMER"].wp_shared_secret


def _call(base: str, secret: str, skew: int) -> requests.Response:
    path = "/api/tracks"
    return requests.get(base + path, headers=sign(secret, "GET", path, timestamp=int(time.time()) + skew), timeout=10)


@pytest.mark.parametrize("skew", [-WINDOW_SECONDS + 10, -120, 0, 120, WINDOW_SECONDS - 10],
                         ids=["behind-4m50", "behind-2m", "in-step", "ahead-2m", "ahead-4m50"])
def test_a_signed_call_within_five_minutes_of_skew_works(live, skew):
    r = _call(*live, skew)
    assert r.status_code == 200, r.text
    assert isinstance(r.json(), list)


@pytest.mark.parametrize("skew", [-WINDOW_SECONDS - 10, -3600, WINDOW_SECONDS + 10, 3600],
                         ids=["behind-5m10", "behind-1h", "ahead-5m10", "ahead-1h"])
def test_a_signed_call_outside_the_window_is_refused(live, skew):
    r = _call(*live, skew)
    assert r.status_code == 401
    assert r.json()["code"] == "signature_expired" and "five-minute window" in r.json()["message"]
