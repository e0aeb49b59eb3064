"""Regenerating a piece from its SHF bundle: its own algorithms, in a sandbox, then a re-render.

1. The bundle is opened and every member's hash checked; its signature must verify against a
   trusted key (the band's by default), otherwise nothing runs (UntrustedBundle/BundleSignatureError).
2. The sandbox must be available here (:func:`companion.shf.sandbox.check_available`);
   otherwise nothing runs (SandboxUnavailable), never with weaker isolation.
3. The algorithm scripts, instrument files and a job description go into a fresh ``job``
   folder beside an empty ``out`` folder; :func:`companion.shf.sandbox.run` runs
   :mod:`companion.shf.runner` on them under bubblewrap (own namespaces, uid 65534, read-only
   binds of only the runtime, the composition model and the job, no network, seccomp, limits).
4. The composition it wrote is parsed by the companion (never trusted as code) and compared
   with the bundled canonical files; it is then rendered with the bundle's instrument files and
   render settings by the companion's engines and compared with the bundled master: identical
   samples when the engine versions match, otherwise within the spec's tolerance.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import spec
from .reader import open_bundle
from .sandbox import Limits, check_available as sandbox_check, run as run_in_sandbox
from .spec import BundleSignatureError, SandboxError, UntrustedBundle

__all__ = ["Limits", "RegenerateResult", "regenerate", "compare_audio"]


@dataclass
class RegenerateResult:
    composition_identical: bool
    audio: dict = field(default_factory=dict)
    sandbox: dict = field(default_factory=dict)
    ok: bool = False

    def to_dict(self) -> dict:
        return {"ok": self.ok, "composition_identical": self.composition_identical, "audio": self.audio,
                "sandbox": self.sandbox}


def prepare_job(b, gen: dict, scratch: Path) -> tuple[Path, Path]:
    """The sandbox's ``job`` folder (the bundle's scripts and instruments, the job file) and an
    empty ``out`` folder, under ``scratch``."""
    job, out = scratch / "job", scratch / "out"
    job.mkdir()
    out.mkdir()
    for name in b.files:
        if name.startswith(("algorithms/", "instruments/")):
            dest = job.joinpath(*name.split("/"))
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(b.read(name))
    (job / "job.json").write_text(json.dumps({k: gen.get(k) for k in ("seed", "params", "members", "measures",
                                                                       "title")}))
    return job, out


def read_output(out: Path) -> dict[str, bytes]:
    """The files the scripts wrote (regular files only, each at most 16 MiB)."""
    files = {}
    for p in sorted(out.rglob("*")):
        if p.is_file() and not p.is_symlink():
            if p.stat().st_size > 16 << 20:
                raise SandboxError("the scripts wrote an oversized composition")
            files[p.relative_to(out).as_posix()] = p.read_bytes()
    return files


def compare_audio(master: np.ndarray, again: np.ndarray) -> dict:
    from ..render.audio import db
    from ..render.loudness import loudness
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
            raise BundleSignatureError("the bundle is not signed: its scripts will not be run (inspect or extract it)")
        if not sig.valid:
            raise BundleSignatureError(f"the bundle's signature is invalid ({sig.reason}): its scripts will not be run")
        if not sig.trusted:
            raise UntrustedBundle(f"the bundle is signed by key {sig.key_id}, which you do not trust: its scripts "
                                  "will not be run (add the key with --trust to run them)", key_id=sig.key_id)
        gen = b.manifest.get("generation")
        if not gen:
            raise SandboxError("the bundle records no generation (seed and parameters): nothing to regenerate")
        b.verify_all()
        sandbox_check()  # no isolation here: refuse before anything is extracted
        work_dir.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix="shf-sandbox-", dir=work_dir))
        try:
            job, out = prepare_job(b, gen, scratch)
            sandbox = run_in_sandbox(job, out, limits)
            files = read_output(out)
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
                res = render_composition(comp, rwork, settings, instruments, workers,
                                         samples=bundled_samples(b, scratch / "samples"))
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


def bundled_samples(b, work: Path):
    """The bundle's library samples (``render.samples``: the sha256 instrument files name -> the member
    standing in for it, a SoundFont subset or the sample itself), extracted, as a resolver; the
    system's SoundFonts after them (bundles from before the library carry none)."""
    from ..samples.library import Chain, FileResolver, Memo, SystemResolver

    entries = ((b.manifest.get("render") or {}).get("samples") or {})
    files = {}
    for sha, entry in entries.items():
        member = entry.get("member", "") if isinstance(entry, dict) else ""
        if not member.startswith("samples/") or member not in b.files:
            raise SandboxError(f"the bundle's render names sample {str(sha)[:12]} but does not carry it")
        dest = work / member.split("/", 1)[1]
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(b.read(member))
        files[sha] = dest
    return Memo(Chain(FileResolver(files), SystemResolver()))  # by hash: either answer is the same bytes


def decode_flac_bytes(data: bytes, work: Path) -> Path:
    from .writer import decode_flac
    src = work / "bundled-master.flac"
    src.write_bytes(data)
    return decode_flac(src, work / "bundled-master.wav")
