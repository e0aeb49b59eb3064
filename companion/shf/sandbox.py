"""The sandbox a trusted bundle's scripts run in: bubblewrap, a separate uid, seccomp, limits.

:func:`run` starts ``python -I -S -B /sandbox/runner.py /job /out`` under bubblewrap
(``/usr/bin/bwrap``, Debian's ``bubblewrap``) with:

- every namespace of its own (``--unshare-all``: user, mount, pid, network, ipc, uts, cgroup)
  and no way to make more (``--disable-userns``, and the seccomp filter below);
- uid and gid 65534 inside its user namespace, with every capability dropped;
- a filesystem of only what the scripts need, read-only: the Python runtime (the interpreter,
  its standard library and the system's shared libraries under /usr/lib), the companion's
  canonical composition model (``companion/__init__.py``, ``errors.py`` and ``compositions/``), the
  runner, and the bundle's extracted scripts, instrument files and job (``/job``); one writable
  folder, ``/out``; a minimal ``/dev``. The root and ``/dev`` are remounted read-only. Nothing
  else of the host is there: not the signing keys, not the database, not ``var/``, not a shell;
- no network: an empty network namespace, and ``socket()`` refused by seccomp;
- a seccomp filter (built here with libseccomp through ctypes, handed to bwrap with
  ``--seccomp FD``) refusing with EPERM: sockets, new processes (fork, vfork, clone without
  CLONE_THREAD; clone3 answers ENOSYS so threads fall back to clone), ptrace and
  process_vm_*, mount and the new mount API, pivot_root, chroot, unshare, setns, keyctl and
  friends, bpf, perf_event_open, userfaultfd, io_uring, module loading, kexec and other
  administration calls; syscalls of another ABI (i386, x32) kill the process. The runner
  installs a second filter before it imports any bundle code, refusing execve and execveat;
- resource limits set before bwrap starts (CPU seconds, address space, file size, open files,
  no core files), a wall-clock timeout that kills the whole process group, an empty
  environment, a new session.

:func:`check_available` runs the same sandbox once (cached) and raises
:class:`~companion.shf.spec.SandboxUnavailable` when any part of it cannot be had here (no
bwrap, user namespaces disabled, no libseccomp): regenerate then runs nothing; there is no
weaker fallback.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .spec import SandboxError, SandboxUnavailable

BWRAP = "/usr/bin/bwrap"
SANDBOX_UID = 65534

#: Where things are inside the sandbox.
CODE_ROOT = "/sandbox"
RUNNER = "/sandbox/runner.py"
JOB = "/job"
OUT = "/out"
EXEC_FILTER = "exec-filter.bpf"  # in the job folder: the filter the runner installs on itself

#: Refused with EPERM for the whole life of the sandboxed process.
DENIED = (
    # network and local IPC endpoints
    "socket", "socketpair",
    # new processes (clone is refused below unless it makes a thread)
    "fork", "vfork",
    # looking into or changing other processes
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    # filesystems and namespaces
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "open_tree", "move_mount", "fsopen",
    "fsconfig", "fsmount", "fspick", "mount_setattr", "open_by_handle_at", "name_to_handle_at", "quotactl",
    "fanotify_init",
    # kernel keyrings, BPF, perf, userfaultfd, io_uring (which would bypass this filter)
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    # administration
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot", "swapon",
    "swapoff", "acct", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "syslog", "iopl", "ioperm",
    "uselib", "vhangup", "lookup_dcookie", "personality",
)
#: What the runner's own filter refuses once Python has started: running any other program.
DENIED_AFTER_START = ("execve", "execveat")

CLONE_THREAD = 0x00010000
EPERM, ENOSYS = 1, 38


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int = 60
    wall_seconds: int = 120
    memory_bytes: int = 1536 << 20
    file_bytes: int = 64 << 20
    open_files: int = 64


# --------------------------------------------------------------------------- seccomp (libseccomp via ctypes)

class _ArgCmp(ctypes.Structure):
    """struct scmp_arg_cmp"""
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_MASKED_EQ = 7


def SCMP_ACT_ERRNO(errno: int) -> int:  # noqa: N802 - libseccomp's name
    return 0x00050000 | (errno & 0xFFFF)


@functools.lru_cache(maxsize=1)
def _libseccomp() -> ctypes.CDLL:
    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError as exc:
        raise SandboxUnavailable(f"libseccomp is not installed ({exc}): install Debian's libseccomp2") from None
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_syscall_resolve_name.restype = ctypes.c_int
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.restype = ctypes.c_int
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                           ctypes.POINTER(_ArgCmp)]
    lib.seccomp_export_bpf.restype = ctypes.c_int
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    return lib


def _build(rules: list[tuple[str, int, list[_ArgCmp]]]) -> bytes:
    """A BPF program (default: allow) applying ``rules`` (syscall name, action, argument checks)."""
    lib = _libseccomp()
    ctx = lib.seccomp_init(SCMP_ACT_ALLOW)
    if not ctx:
        raise SandboxUnavailable("libseccomp could not make a filter")
    try:
        for name, action, cmps in rules:
            nr = lib.seccomp_syscall_resolve_name(name.encode())
            if nr < 0:  # not a syscall of this architecture: nothing to refuse
                continue
            arr = (_ArgCmp * len(cmps))(*cmps) if cmps else None
            rc = lib.seccomp_rule_add_array(ctx, action, nr, len(cmps), arr)
            if rc < 0:
                raise SandboxUnavailable(f"libseccomp refused the rule for {name} ({os.strerror(-rc)})")
        with tempfile.TemporaryFile() as fh:
            rc = lib.seccomp_export_bpf(ctx, fh.fileno())
            if rc < 0:
                raise SandboxUnavailable(f"libseccomp could not export the filter ({os.strerror(-rc)})")
            fh.seek(0)
            return fh.read()
    finally:
        lib.seccomp_release(ctx)


@functools.lru_cache(maxsize=1)
def base_filter() -> bytes:
    """The filter bwrap installs before it starts Python (see the module doc)."""
    rules = [(name, SCMP_ACT_ERRNO(EPERM), []) for name in DENIED]
    # clone: only threads (CLONE_THREAD set); clone3 passes its flags in memory, so it gets ENOSYS
    # and the C library falls back to clone.
    rules.append(("clone", SCMP_ACT_ERRNO(EPERM), [_ArgCmp(0, SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0)]))
    rules.append(("clone3", SCMP_ACT_ERRNO(ENOSYS), []))
    return _build(rules)


@functools.lru_cache(maxsize=1)
def exec_filter() -> bytes:
    """The filter the runner installs on itself before importing bundle code: no execve."""
    return _build([(name, SCMP_ACT_ERRNO(EPERM), []) for name in DENIED_AFTER_START])


# --------------------------------------------------------------------------- the command

def _python() -> tuple[str, list[str]]:
    """The interpreter (symlinks resolved) and the folders it needs read-only: its standard
    library, the folder of libpython, and the system's shared libraries."""
    exe = os.path.realpath(sys.executable)
    paths = sysconfig.get_paths()
    dirs = {paths["stdlib"], paths["platstdlib"], sysconfig.get_config_var("LIBDIR") or "", "/usr/lib", "/usr/lib64"}
    dirs = {os.path.realpath(d) for d in dirs if d and os.path.isdir(d)}
    # drop folders inside another one of the set
    keep = sorted(d for d in dirs if not any(d != o and d.startswith(o + os.sep) for o in dirs))
    return exe, keep


def _companion_root() -> Path:
    return Path(__file__).resolve().parents[1]


def command(job: Path, out: Path, seccomp_fd: int) -> list[str]:
    """The bwrap command that runs the runner on ``job`` (read-only) writing to ``out``."""
    exe, libdirs = _python()
    comp = _companion_root()
    cmd = [BWRAP, "--unshare-all", "--unshare-user", "--disable-userns", "--uid", str(SANDBOX_UID),
           "--gid", str(SANDBOX_UID), "--cap-drop", "ALL", "--die-with-parent", "--new-session",
           "--clearenv", "--setenv", "LANG", "C.UTF-8", "--setenv", "HOME", OUT, "--setenv", "PATH", "/nonexistent",
           "--dev", "/dev"]
    for d in libdirs:
        cmd += ["--ro-bind", d, d]
    if not any(exe == d or exe.startswith(d + os.sep) for d in libdirs):
        cmd += ["--ro-bind", exe, exe]
    cmd += ["--symlink", "usr/lib", "/lib"]
    if os.path.isdir("/usr/lib64"):
        cmd += ["--symlink", "usr/lib64", "/lib64"]
    cmd += ["--ro-bind", str(comp / "__init__.py"), f"{CODE_ROOT}/companion/__init__.py",
            "--ro-bind", str(comp / "errors.py"), f"{CODE_ROOT}/companion/errors.py",
            "--ro-bind", str(comp / "compositions"), f"{CODE_ROOT}/companion/compositions",
            "--ro-bind", str(comp / "shf" / "runner.py"), RUNNER,
            "--ro-bind", str(job), JOB,
            "--bind", str(out), OUT,
            "--chdir", OUT,
            "--remount-ro", "/dev", "--remount-ro", "/",
            "--seccomp", str(seccomp_fd),
            "--", exe, "-I", "-S", "-B", RUNNER, JOB, OUT]
    return cmd


def _limit(limits: Limits):
    def apply() -> None:
        os.setsid()
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


def _prepare_job(job: Path) -> None:
    (job / EXEC_FILTER).write_bytes(exec_filter())


def _spawn(job: Path, out: Path, limits: Limits) -> subprocess.Popen:
    _prepare_job(job)
    r, w = os.pipe()
    try:
        data = base_filter()
        if len(data) > 65536:  # a pipe holds 64 KiB: enough for any filter made here
            raise SandboxUnavailable("the seccomp filter is too large")
        os.write(w, data)
        os.close(w)
        w = -1
        return subprocess.Popen(command(job, out, r), cwd="/", env={"LANG": "C.UTF-8"}, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=(r,),
                                preexec_fn=_limit(limits))
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)


# --------------------------------------------------------------------------- availability

@functools.lru_cache(maxsize=1)
def _probe() -> str | None:
    """Why the sandbox cannot run here (None when it can): a trial run of the real thing."""
    if not (os.path.isfile(BWRAP) and os.access(BWRAP, os.X_OK)):
        return f"{BWRAP} is not installed: install Debian's bubblewrap"
    try:
        base_filter()
        exec_filter()
    except SandboxUnavailable as exc:
        return exc.message
    with tempfile.TemporaryDirectory(prefix="shf-probe-") as d:
        job, out = Path(d, "job"), Path(d, "out")
        job.mkdir()
        out.mkdir()
        (job / "job.json").write_text(json.dumps({"probe": True}))
        try:
            proc = _spawn(job, out, Limits(cpu_seconds=20, wall_seconds=60))
            stdout, stderr = proc.communicate(timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"bubblewrap could not start: {exc}"
        report = _last_json(stdout)
        if proc.returncode != 0 or not (report or {}).get("probe"):
            why = stderr.decode(errors="replace").strip()[-300:] or f"exit {proc.returncode}"
            return f"bubblewrap cannot build the sandbox here (user namespaces disabled?): {why}"
    return None


def check_available() -> None:
    """Raise SandboxUnavailable (naming what is missing) unless the sandbox works on this machine."""
    reason = _probe()
    if reason is not None:
        _probe.cache_clear()  # try again next time (e.g. after bubblewrap is installed)
        raise SandboxUnavailable(f"the bundle's scripts cannot be isolated here, so they are not run: {reason}",
                                 reason=reason)


def description() -> dict:
    return {"tool": "bubblewrap", "uid": SANDBOX_UID, "network": "none (own namespace, socket() refused)",
            "filesystem": "read-only runtime, composition model and bundle; writable /out only",
            "seccomp": {"denied": list(DENIED) + ["clone without CLONE_THREAD", "clone3 (ENOSYS)"],
                        "denied_after_start": list(DENIED_AFTER_START)}}


# --------------------------------------------------------------------------- running

def _last_json(stdout: bytes) -> dict | None:
    for line in reversed(stdout.decode(errors="replace").splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def run(job: Path, out: Path, limits: Limits) -> dict:
    """Run the runner on ``job`` writing to ``out``; its JSON report (SandboxError when it failed)."""
    check_available()
    t0 = time.perf_counter()
    proc = _spawn(job, out, limits)
    try:
        stdout, stderr = proc.communicate(timeout=limits.wall_seconds)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise SandboxError(f"the bundle's scripts ran past the {limits.wall_seconds} s time limit and were stopped",
                           limit="wall_seconds") from None
    info = {"isolation": description(), "seconds": round(time.perf_counter() - t0, 3), "exit": proc.returncode}
    report = _last_json(stdout)
    if proc.returncode < 0 or (report is None and proc.returncode > 128):
        sig = -proc.returncode if proc.returncode < 0 else proc.returncode - 128
        what = {signal.SIGXCPU: "the CPU time limit", signal.SIGKILL: "a limit (killed)",
                signal.SIGXFSZ: "the file size limit", signal.SIGSEGV: "memory",
                signal.SIGSYS: "the seccomp filter"}.get(sig, f"signal {sig}")
        raise SandboxError(f"the bundle's scripts were stopped by {what}", signal=sig, **info)
    if not report or not report.get("ok"):
        msg = (report or {}).get("message") or stderr.decode(errors="replace")[-400:] or "no report"
        code = (report or {}).get("code", "script_error")
        raise SandboxError(f"the bundle's scripts failed in the sandbox ({code}): {msg}", reason=code, **info)
    return {**info, "report": report}


def cleanup(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
