"""What a live rig holds of the machine, and gives back however it ends (real jackd, scsynth, ffmpeg).

jack2 registers at most 8 servers a machine, and a server killed with SIGKILL keeps its entry until a
server of the same name reclaims it; scsynth leaves its shared memory in /dev/shm whenever it ends. A
companion that ran sessions for months must not run out of either."""
from __future__ import annotations

import os
import shutil
import signal

import pytest

from companion.live.engine import JACK_SLOTS, Rig, RigError, take_jack_slot
from tests.live.test_sessions import _programs  # noqa: F401  (autouse: the rig's programs, or a failure)

pytestmark = pytest.mark.slow


def test_more_killed_jack_servers_than_jack_allows_do_not_stop_the_next_rig(tmp_path):
    """Ten rigs in a row whose jackd and scsynth are killed with SIGKILL (a crash, an OOM kill): each next
    one still starts, in a slot of its own while another runs, and leaves no shared memory behind."""
    names = []
    for i in range(JACK_SLOTS + 2):
        rig = Rig(work=tmp_path / f"rig{i}", stems=["a"])
        rig.start()
        try:
            names.append(rig.server_name)
            assert rig.shared_memory.exists()
            os.kill(rig.procs["jackd"].pid, signal.SIGKILL)
            os.kill(rig.procs["scsynth"].pid, signal.SIGKILL)
        finally:
            rig.stop()
        assert all(p.poll() is not None for p in rig.procs.values())
        assert not rig.shared_memory.exists(), rig.shared_memory
    assert set(names) <= {f"scripthammer-live-{n}" for n in range(JACK_SLOTS)}, names


def test_rigs_running_at_once_take_distinct_slots_and_a_full_machine_is_a_clear_error(tmp_path):
    rigs = [Rig(work=tmp_path / f"rig{i}", stems=["a"]) for i in range(2)]
    held = []
    try:
        for rig in rigs:
            rig.start()
        assert rigs[0].server_name != rigs[1].server_name
        # the other slots taken (by other companions on the machine): the next rig is refused, clearly
        lsp = shutil.which("jack_lsp")
        for _ in range(JACK_SLOTS - 2):
            try:
                held.append(take_jack_slot(lsp)[1])
            except RigError:  # a slot another process on the machine holds
                break
        extra = Rig(work=tmp_path / "extra", stems=["a"])
        with pytest.raises(RigError) as err:
            extra.start()
        assert err.value.code == "live_jack_slots_full" and extra.procs == {}
    finally:
        for fd in held:
            os.close(fd)
        for rig in rigs:
            rig.stop()
    # given back: a new rig starts in a freed slot
    again = Rig(work=tmp_path / "again", stems=["a"])
    again.start()
    try:
        assert again.server_name in {r.server_name for r in rigs}
    finally:
        again.stop()
