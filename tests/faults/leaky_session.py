"""Run by tests/faults/test_nothing_left_behind.py in a pytest session of its own (the suite does not
collect it: no ``test_`` prefix). With SHM_LEAK=1 its one test starts a process and never stops it,
as a fixture that forgot a server would: that session must fail and name the process."""
from __future__ import annotations

import os
import subprocess


def test_starts_a_process(redis_url):
    if os.environ.get("SHM_LEAK") == "1":
        subprocess.Popen(["sleep", "300"], start_new_session=True)  # noqa: S603,S607 - left running on purpose
    assert redis_url.startswith("redis://")
