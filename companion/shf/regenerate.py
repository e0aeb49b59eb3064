"""Regenerating a piece from its SHF bundle: its own algorithms, in a sandbox, then a re-render.

1. The bundle is opened and every member's hash checked; its signature must verify against a
   trusted key (the band's by default), otherwise nothing runs (UntrustedBundle/SignatureError).
2. The algorithm scripts, instrument files and a job description go into a fresh scratch folder.
3. ``python -I -B -m companion.shf.runner <scratch>`` runs with: its own network namespace
   (``unshare -rn``, so no network at all) when the kernel allows it; the unprivileged ``nobody``
   user when started as root; RLIMIT_CPU, RLIMIT_AS, RLIMIT_FSIZE, RLIMIT_NOFILE, RLIMIT_NPROC
   and RLIMIT_CORE; a wall-clock timeout; an empty environment; the scratch folder as cwd and
   HOME; and an audit hook inside refusing writes outside the scratch folder, sockets, processes
   and native code (see :mod:`companion.shf.runner`).
4. The composition it wrote is parsed by the companion (never trusted as code) and compared
   with the bundled canonical files; it is then rendered with the bundle's instrument files and
   render settings by the companion's engines and compared with the bundled master: identical
   samples when the engine versions match, otherwise within the spec's tolerance.
"""
from __future__ import annotations

import functools
import json
import os
import pwd
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import spec
from .reader import open_bundle
from .spec import SandboxError, SignatureError, UntrustedBundle


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int = 60
    wall_seconds: int = 120
    memory_bytes: int = 1536 << 20
    file_bytes: int = 64 << 20
    open_files: int = 64
    processes: int = 64


@dataclass
class RegenerateResult:
    composition_identical: bool
    audio: dict = field(default_factory=dict)
    sandbox: dict = field(default_factory=dict)
    ok: bool = False

    def to_dict(self) -> dict:
        return {"ok": self.ok, "composition_identical": self.composition_identical, "audio": self.audio,
                "sandbox": self.sandbox}


def network_isolation() -> list[str]:
    """The command prefix that gives the child no network: ``unshare -rn`` (or ``-n`` as root)."""
    exe = shutil.which("unshare")
    if exe is None:
        return []
    for args in ([exe, "-n"], [exe, "-rn"]):
        try:
            if subprocess.run(args + ["true"], capture_output=True, timeout=10).returncode == 0:
                return args
        except (OSError, subprocess.TimeoutExpired):
            continue
    return []


@functools.lru_cache(maxsize=1)
def unprivileged_user() -> tuple[int, int] | None:
    """(uid, gid) of ``nobody`` if this Python and the companion can run as that user here."""
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        return None
    ids = (nobody.pw_uid, nobody.pw_gid)

    def drop() -> None:
        os.setgroups([])
        os.setgid(ids[1])
        os.setuid(ids[0])
    try:
        ok = subprocess.run([sys.executable, "-I", "-B", "-c", "import companion.shf.runner"], capture_output=True,
                            preexec_fn=drop, timeout=60, cwd="/").returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    return ids if ok else None


def _preexec(limits: Limits, uid: int | None, gid: int | None):
    def apply() -> None:
        os.setsid()
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if uid is not None:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
    return apply


def run_sandboxed(scratch: Path, limits: Limits) -> dict:
    """Run the runner on ``scratch``; returns its JSON report (SandboxError when it failed)."""
    prefix = network_isolation()
    uid = gid = None
    if os.geteuid() == 0 and unprivileged_user() is not None:
        try:
            uid, gid = unprivileged_user()
            os.chown(scratch, uid, gid)
            for p in scratch.rglob("*"):
                os.chown(p, uid, gid, follow_symlinks=False)
        except KeyError:
            pass
    if uid is not None and prefix:
        prefix = prefix[:-1] + ["-rn"]  # as nobody: a user namespace is needed for the network one
    repo_root = str(Path(__file__).resolve().parents[2])
    cmd = prefix + [sys.executable, "-I", "-B", "-c",
                    f"import sys; sys.path.insert(0, {repo_root!r}); import runpy; "
                    "runpy.run_module('companion.shf.runner', run_name='__main__')", str(scratch)]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(scratch), "TMPDIR": str(scratch), "LANG": "C.UTF-8"}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=scratch, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, preexec_fn=_preexec(limits, uid, gid))
    try:
        out, err = proc.communicate(timeout=limits.wall_seconds)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.communicate()
        raise SandboxError(f"the bundle's scripts ran past the {limits.wall_seconds} s time limit and were stopped",
                           limit="wall_seconds")
    elapsed = time.perf_counter() - t0
    info = {"isolation": {"network": "namespace" if prefix else "audit hook only",
                          "user": "nobody" if uid is not None else "unchanged"},
            "seconds": round(elapsed, 3), "exit": proc.returncode}
    report = None
    for line in reversed(out.decode(errors="replace").splitlines()):
        try:
            report = json.loads(line)
            break
        except ValueError:
            continue
    if proc.returncode < 0:
        import signal
        sig = -proc.returncode
        what = {signal.SIGXCPU: "the CPU time limit", signal.SIGKILL: "a limit (killed)",
                signal.SIGXFSZ: "the file size limit", signal.SIGSEGV: "memory"}.get(sig, f"signal {sig}")
        raise SandboxError(f"the bundle's scripts were stopped by {what}", signal=sig, **info)
    if not report or not report.get("ok"):
        msg = (report or {}).get("message") or err.decode(errors="replace")[-400:] or "no report"
        code = (report or {}).get("code", "script_error")
        raise SandboxError(f"the bundle's scripts failed in the sandbox ({code}): {msg}", reason=code, **info)
    return {**info, "report": report}


def compare_audio(master: np.ndarray, again: np.ndarray) -> dict:
    from ..render.audio import db, loudness
    n = min(len(master), len(again))
    same = master.shape == again.shape and np.array_equal(master, again)
    diff = master[:n] - again[:n]
    rms_m = float(np.sqrt(np.mean(master[:n] ** 2))) or 1e-12
    rms_d = float(np.sqrt(np.mean(diff ** 2)))
    lm, la = loudness(master), loudness(again)
    return {"identical": bool(same), "residual_db": round(db(rms_d / rms_m), 2) if rms_d else None,
            "loudness_delta_lu": round(abs(lm - la), 3), "frames": [len(master), len(again)]}


def regenerate(path: str | Path, trusted: dict, work_dir: Path, limits: Limits = Limits(), render: bool = True,
               workers: int = 2) -> RegenerateResult:
    """Re-create the bundle's piece from its own scripts (sandboxed) and compare (see the module doc)."""
    from ..algorithms.instruments import parse_instrument
    from ..compositions.model import Composition
    from ..render.audio import read_wav
    from ..render.engines import FluidSynthEngine, SuperColliderEngine
    from ..render.service import RenderSettings, render_composition

    with open_bundle(path) as b:
        sig = b.signature(trusted)
        if not sig.present:
            raise SignatureError("the bundle is not signed: its scripts will not be run (inspect or extract it)")
        if not sig.valid:
            raise SignatureError(f"the bundle's signature is invalid ({sig.reason}): its scripts will not be run")
        if not sig.trusted:
            raise UntrustedBundle(f"the bundle is signed by key {sig.key_id}, which you do not trust: its scripts "
                                  "will not be run (add the key with --trust to run them)", key_id=sig.key_id)
        gen = b.manifest.get("generation")
        if not gen:
            raise SandboxError("the bundle records no generation (seed and parameters): nothing to regenerate")
        b.verify_all()
        work_dir.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix="shf-sandbox-", dir=work_dir))
        try:
            for name in b.files:
                if name.startswith(("algorithms/", "instruments/")):
                    dest = scratch.joinpath(*name.split("/"))
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    dest.write_bytes(b.read(name))
            (scratch / "job.json").write_text(json.dumps({k: gen.get(k) for k in
                                                          ("seed", "params", "members", "measures", "title")}))
            sandbox = run_sandboxed(scratch, limits)
            out = scratch / "out"
            files = {}
            for p in sorted(out.rglob("*")):
                if p.is_file() and not p.is_symlink():
                    if p.stat().st_size > 16 << 20:
                        raise SandboxError("the scripts wrote an oversized composition")
                    files[p.relative_to(out).as_posix()] = p.read_bytes()
            bundled = {n[len("composition/"):]: b.read(n) for n in b.files if n.startswith("composition/")}
            try:
                comp = Composition.from_files(files)
                comp.parse_all()
            except Exception as exc:  # noqa: BLE001
                raise SandboxError(f"the scripts wrote an invalid composition: {exc}") from None
            result = RegenerateResult(composition_identical=(files == bundled), sandbox=sandbox)
            if render:
                instruments = {}
                for n in b.files:
                    if n.startswith("instruments/"):
                        inst = parse_instrument(b.read(n).decode(), n)
                        instruments[inst.id] = inst
                settings = RenderSettings.from_dict(json.loads(b.read("render/settings.json")))
                rwork = scratch / "render"
                rwork.mkdir()
                res = render_composition(comp, rwork, settings, instruments, workers)
                master_wav = decode_flac_bytes(b.read("audio/master.flac"), scratch)
                _, master = read_wav(master_wav)
                _, again = read_wav(res["mixdown"])
                cmp = compare_audio(master, again)
                engines_now = {"fluidsynth": FluidSynthEngine().version(), "supercollider": SuperColliderEngine().version()}
                engines_then = (b.manifest.get("render") or {}).get("engines") or {}
                same_engines = all(engines_then.get(k) == v for k, v in engines_now.items())
                tol = b.manifest.get("tolerance") or spec.TOLERANCE
                if same_engines and tol.get("identical_when_engines_match", True):
                    ok = cmp["identical"]
                    rule = "identical samples (same engine versions)"
                else:
                    ok = cmp["identical"] or (cmp["loudness_delta_lu"] <= tol["max_loudness_delta_lu"] and
                                              (cmp["residual_db"] or -999) <= tol["max_residual_db"])
                    rule = (f"within tolerance: loudness within {tol['max_loudness_delta_lu']} LU and residual at "
                            f"most {tol['max_residual_db']} dB (engine versions differ)")
                result.audio = {**cmp, "rule": rule, "engines_match": same_engines, "engines_now": engines_now}
                result.ok = bool(ok and result.composition_identical)
            else:
                result.ok = result.composition_identical
            return result
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def decode_flac_bytes(data: bytes, work: Path) -> Path:
    from .writer import decode_flac
    src = work / "bundled-master.flac"
    src.write_bytes(data)
    return decode_flac(src, work / "bundled-master.wav")
