"""Regeneration: only trusted signatures run, in a sandbox that holds; the result matches the master."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from companion.shf import spec
from companion.shf.regenerate import Limits, regenerate

from tests.shf.conftest import rewrite

FAST = Limits(cpu_seconds=10, wall_seconds=30, memory_bytes=768 << 20)


def test_regenerate_is_bit_identical(good_bundle, trusted, tmp_path):
    res = regenerate(good_bundle, trusted, tmp_path)
    assert res.ok and res.composition_identical
    assert res.audio["identical"] and res.audio["engines_match"]
    assert res.sandbox["isolation"]["tool"] == "bubblewrap"


def test_untrusted_and_unsigned_bundles_do_not_run(good_bundle, trusted, tmp_path):
    other = rewrite(good_bundle, tmp_path / "o.shf", key=Ed25519PrivateKey.generate())
    with pytest.raises(spec.UntrustedBundle, match="do not trust"):
        regenerate(other, trusted, tmp_path)
    unsigned = rewrite(good_bundle, tmp_path / "u.shf", drop=("shf.sig",))
    with pytest.raises(spec.BundleSignatureError, match="not signed"):
        regenerate(unsigned, trusted, tmp_path)
    forged = rewrite(good_bundle, tmp_path / "f.shf", manifest_change=lambda m: m.update(title="x"))
    with pytest.raises(spec.BundleSignatureError, match="invalid"):
        regenerate(forged, trusted, tmp_path)


def evil(good_bundle, tmp_path, key, code: str, name="algorithms/members/form.py") -> Path:
    """The bundle with ``code`` appended to one algorithm script (run on import), re-signed."""
    with __import__("zipfile").ZipFile(good_bundle) as z:
        data = z.read(name) + b"\n" + code.encode() + b"\n"

    def change(n, d):
        return data if n == name else d

    def fix(m):
        m["files"][name].update(size=len(data), sha256=hashlib.sha256(data).hexdigest())
    return rewrite(good_bundle, tmp_path / "evil.shf", change=change, manifest_change=fix, key=key)


def outcome(bad, trusted, tmp_path) -> str:
    """Run a hostile bundle whose script ends by raising ``RuntimeError("OUTCOME ...")``: what it saw."""
    with pytest.raises(spec.SandboxError) as info:
        regenerate(bad, trusted, tmp_path, FAST, render=False)
    msg = info.value.message
    assert "OUTCOME " in msg, msg
    return msg.split("OUTCOME ", 1)[1]


def attack(body: str) -> str:
    """Script text: run ``body`` (which fills the dict ``seen``), then report ``seen`` by raising."""
    return "seen = {}\n" + body + "\nraise RuntimeError('OUTCOME ' + repr(seen))"


SHELL = attack("""
import os
marker = @MARKER@
try:
    import _posixsubprocess  # what subprocess uses; no audit event of its own
    pid = _posixsubprocess.fork_exec(
        [b'/bin/sh', b'-c', ('echo pwned > ' + marker).encode()], [b'/bin/sh'], True, (), None, None,
        -1, -1, -1, -1, -1, -1, *os.pipe(), False, False, -1, None, None, None, -1, None, False)
    os.waitpid(pid, 0)
    seen['fork_exec'] = 'RAN'
except OSError as exc:
    seen['fork_exec'] = exc.errno
try:
    import subprocess
    subprocess.run(['/bin/sh', '-c', 'echo pwned > ' + marker])
    seen['subprocess'] = 'RAN'
except OSError as exc:
    seen['subprocess'] = exc.errno
seen['system'] = os.system('echo pwned > ' + marker)
try:
    os.execv('/bin/sh', ['sh', '-c', 'echo pwned > ' + marker])
except OSError as exc:
    seen['execv'] = exc.errno
""")


def test_a_script_cannot_start_a_shell(good_bundle, band_key, trusted, tmp_path):
    """Hole 11 (a): the audit hook let _posixsubprocess start /bin/sh. Now no process can be made."""
    import errno

    marker = tmp_path / "pwned"
    bad = evil(good_bundle, tmp_path, band_key, SHELL.replace("@MARKER@", repr(str(marker))))
    seen = eval(outcome(bad, trusted, tmp_path))  # noqa: S307 - our own repr of a dict of ints
    assert seen["fork_exec"] == errno.EPERM and seen["subprocess"] == errno.EPERM, seen
    assert seen["system"] != 0 and seen["execv"] == errno.EPERM, seen
    assert not marker.exists()


READ = attack("""
for name, path in @PATHS@.items():
    try:
        with open(path, 'rb') as fh:
            seen[name] = 'READ %d bytes' % len(fh.read())
    except OSError as exc:
        seen[name] = exc.errno
""")


def test_a_script_cannot_read_the_signing_key_or_the_database(good_bundle, band_key, trusted, tmp_path):
    """Hole 11 (b): reads were never stopped: a script could read the band's key and the database."""
    import errno
    import sqlite3

    from companion.config import Config
    from companion.shf.keys import key_paths, signing_key

    cfg = Config(var_dir=tmp_path / "var")
    signing_key(cfg)
    db = tmp_path / "var" / "companion.db"
    with sqlite3.connect(db) as c:
        c.execute("CREATE TABLE api_tokens (token_hash TEXT)")
        c.execute("INSERT INTO api_tokens VALUES ('secret')")
    paths = {"key": str(key_paths(cfg)[0]), "db": str(db), "passwd": "/etc/passwd", "proc": "/proc/1/environ",
             "repo_config": str(Path(__file__).resolve().parents[2] / "companion" / "config.py")}
    bad = evil(good_bundle, tmp_path, band_key, READ.replace("@PATHS@", repr(paths)))
    seen = eval(outcome(bad, trusted, tmp_path))  # noqa: S307
    assert seen == {name: errno.ENOENT for name in paths}, seen


CONNECT = attack("""
import _socket
for family, address in ((_socket.AF_INET, ('127.0.0.1', @PORT@)), (_socket.AF_UNIX, @UNIX@)):
    try:
        s = _socket.socket(family, _socket.SOCK_STREAM)
        s.settimeout(2)
        s.connect(address)
        seen[int(family)] = 'CONNECTED'
    except OSError as exc:
        seen[int(family)] = exc.errno
""")


def test_a_script_cannot_open_a_socket(good_bundle, band_key, trusted, tmp_path):
    """Hole 11 (c): no socket of any family, so not to a listener on this machine either."""
    import errno
    import socket

    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(1)
    tcp.settimeout(0.5)
    unix_path = str(tmp_path / "listener.sock")
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(unix_path)
    unix.listen(1)
    unix.settimeout(0.5)
    try:
        code = CONNECT.replace("@PORT@", str(tcp.getsockname()[1])).replace("@UNIX@", repr(unix_path))
        bad = evil(good_bundle, tmp_path, band_key, code)
        seen = eval(outcome(bad, trusted, tmp_path))  # noqa: S307
        assert seen == {int(socket.AF_INET): errno.EPERM, int(socket.AF_UNIX): errno.EPERM}, seen
        for listener in (tcp, unix):
            with pytest.raises(socket.timeout):
                listener.accept()
    finally:
        tcp.close()
        unix.close()


WRITE = attack("""
for name, path in @PATHS@.items():
    try:
        with open(path, 'w') as fh:
            fh.write('x')
        seen[name] = 'WROTE'
    except OSError as exc:
        seen[name] = exc.errno
with open('/out/allowed.txt', 'w') as fh:  # the one writable place
    seen['out'] = fh.write('ok')
""")


def test_a_script_cannot_write_outside_its_output_folder(good_bundle, band_key, trusted, tmp_path):
    """Hole 11 (d): only /out is writable: not the job's own scripts, not /, not the host's folders."""
    import errno

    escape = tmp_path / "escape.txt"
    paths = {"host": str(escape), "job_script": "/job/algorithms/generate.py", "job_new": "/job/new.py",
             "root": "/evil", "dev": "/dev/evil", "lib": "/usr/lib/evil", "code": "/sandbox/companion/evil.py"}
    bad = evil(good_bundle, tmp_path, band_key, WRITE.replace("@PATHS@", repr(paths)))
    seen = eval(outcome(bad, trusted, tmp_path))  # noqa: S307
    assert seen.pop("out") == 2
    assert seen["host"] == errno.ENOENT
    assert all(seen[name] == errno.EROFS for name in paths if name != "host"), seen
    assert not escape.exists()


def test_the_seccomp_filter_refuses_dangerous_calls(good_bundle, band_key, trusted, tmp_path):
    """Whatever a script reaches with ctypes, the kernel refuses these calls (EPERM) in the sandbox."""
    import errno

    from companion.shf.sandbox import _libseccomp

    names = ["socket", "ptrace", "mount", "keyctl", "unshare", "setns", "bpf", "fork", "execve", "perf_event_open",
             "userfaultfd", "io_uring_setup", "chroot"]
    numbers = {n: _libseccomp().seccomp_syscall_resolve_name(n.encode()) for n in names}
    clone = _libseccomp().seccomp_syscall_resolve_name(b"clone")
    code = attack(f"""
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
for name, nr in {numbers!r}.items():
    ctypes.set_errno(0)
    rc = libc.syscall(nr, 0, 0, 0, 0, 0)
    seen[name] = ctypes.get_errno() if rc == -1 else 'RETURNED %d' % rc
ctypes.set_errno(0)
seen['clone_process'] = (libc.syscall({clone}, 17, 0, 0, 0, 0), ctypes.get_errno())
seen['uid'] = os.getuid()
""")
    bad = evil(good_bundle, tmp_path, band_key, code)
    seen = eval(outcome(bad, trusted, tmp_path))  # noqa: S307
    assert seen.pop("uid") == 65534
    assert seen.pop("clone_process") == (-1, errno.EPERM)
    assert seen == {n: errno.EPERM for n in names}, seen


def test_no_sandbox_means_nothing_runs(good_bundle, trusted, tmp_path, monkeypatch):
    """Without bubblewrap the scripts are not run at all: a clear error, no weaker fallback."""
    from companion.shf import sandbox

    monkeypatch.setattr(sandbox, "BWRAP", str(tmp_path / "no-bwrap"))
    sandbox._probe.cache_clear()
    work = tmp_path / "work"
    try:
        with pytest.raises(spec.SandboxUnavailable, match="bubblewrap") as info:
            regenerate(good_bundle, trusted, work, FAST, render=False)
    finally:
        sandbox._probe.cache_clear()
    assert info.value.code == "sandbox_unavailable" and info.value.status == 503
    assert not work.exists()  # nothing extracted, nothing run


def test_cpu_hog_is_stopped(good_bundle, band_key, trusted, tmp_path):
    bad = evil(good_bundle, tmp_path, band_key, "while True:\n    pass")
    with pytest.raises(spec.SandboxError, match="CPU time limit|time limit"):
        regenerate(bad, trusted, tmp_path, Limits(cpu_seconds=2, wall_seconds=20), render=False)


def test_memory_hog_is_stopped(good_bundle, band_key, trusted, tmp_path):
    bad = evil(good_bundle, tmp_path, band_key, "x = bytearray(4 << 30)")
    with pytest.raises(spec.SandboxError, match="memory"):
        regenerate(bad, trusted, tmp_path, FAST, render=False)


def test_huge_file_in_scratch_is_stopped(good_bundle, band_key, trusted, tmp_path):
    bad = evil(good_bundle, tmp_path, band_key, "open('big', 'wb').write(b'0' * (200 << 20))")
    with pytest.raises(spec.SandboxError):
        regenerate(bad, trusted, tmp_path, FAST, render=False)


def test_changed_algorithm_is_detected(good_bundle, band_key, trusted, tmp_path):
    # a signed bundle whose scripts no longer produce its music: regenerate says so (ok False)
    bad = evil(good_bundle, tmp_path, band_key, "", name="algorithms/members/crash.py")
    with __import__("zipfile").ZipFile(good_bundle) as z:
        src = z.read("algorithms/members/crash.py").replace(b"note(t, SNARE, SIX, 108)", b"note(t, SNARE, SIX, 100)")
    assert b"SNARE, SIX, 100" in src

    def change(n, d):
        return src if n == "algorithms/members/crash.py" else d

    def fix(m):
        m["files"]["algorithms/members/crash.py"].update(size=len(src), sha256=hashlib.sha256(src).hexdigest())
    changed = rewrite(good_bundle, tmp_path / "c.shf", change=change, manifest_change=fix, key=band_key)
    res = regenerate(changed, trusted, tmp_path, render=False)
    assert not res.ok and not res.composition_identical


def test_the_container_runs_as_a_user_and_has_the_sandbox():
    """The Dockerfile installs bubblewrap and libseccomp and ends as a non-root user."""
    text = (Path(__file__).resolve().parents[2] / "Dockerfile").read_text()
    assert "bubblewrap" in text and "libseccomp2" in text
    users = [line.split()[1] for line in text.splitlines() if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    cmd_at = max(i for i, line in enumerate(text.splitlines()) if line.startswith("CMD "))
    user_at = max(i for i, line in enumerate(text.splitlines()) if line.startswith("USER "))
    assert user_at < cmd_at
