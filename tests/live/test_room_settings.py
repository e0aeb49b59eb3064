"""The members' room's prebuffer: Janus' AudioBridge mixes nothing of a participant at 0 packets (bench/live.py
heard none of its beeps), so the setting refuses it at start-up instead of running a silent room."""
from __future__ import annotations

import pytest

from companion.config import Config


def test_the_rooms_prebuffer_is_at_least_one_packet():
    assert Config.from_env({"SCRIPTHAMMER_LIVE_ROOM_PREBUFFER": "3"}).live_room_prebuffer == 3
    assert Config.from_env({}).live_room_prebuffer == 1
    for bad in ("0", "-1"):
        with pytest.raises(ValueError, match="SCRIPTHAMMER_LIVE_ROOM_PREBUFFER"):
            Config.from_env({"SCRIPTHAMMER_LIVE_ROOM_PREBUFFER": bad})
