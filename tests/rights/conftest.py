"""The rights tests' fixtures: a short band song (the demo MIDI rendered by FluidSynth, made once per
session), the app's services, and a fan's listener-token headers."""
from __future__ import annotations

import pytest
import soundfile as sf


@pytest.fixture(scope="session")
def song(tmp_path_factory):
    """(samples, rate) of a 45 s four-part demo song rendered with FluidSynth."""
    from companion.demo import render_midi, write_demo_midi

    folder = tmp_path_factory.mktemp("song")
    mid = write_demo_midi(folder / "song.mid", seconds=45, seed=3)
    wav = render_midi(mid, folder / "song.wav")
    samples, sr = sf.read(wav)
    return samples, sr


@pytest.fixture
def svc(app):
    return app.extensions["scripthammer"]


@pytest.fixture
def fan(app):
    """fan(wp_user_id=601) -> the headers of that WordPress user's listener token (as WordPress mints it)."""
    from companion.access.tokens import make_listener_token

    def headers(wp_user_id: int = 601) -> dict:
        secret = app.extensions["scripthammer"].config.wp_shared_secret
        return {"Authorization": f"Bearer {make_listener_token(secret, wp_user_id, display_name=f'fan {wp_user_id}')}"}
    return headers
