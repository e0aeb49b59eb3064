"""Building the SHF bundle of a rendered composition version, and a render's release.

The SHF room builds on the render room's outputs (a render manifest, its stored mixdown and
stems); the render room never imports this one. :func:`render_release` is the whole flow a render
job runs: render the version (cached), bundle it, and, when asked, make the mixdown a track through
the release pipeline with the bundle attached as a download by a follow-up job of its own
(:func:`queue_attach`, :func:`attach_after_release`).
"""
from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

from ..algorithms.instruments import Instrument, load_instruments
from ..algorithms.registry import source_files
from ..compositions.model import Composition
from ..errors import Conflict
from ..storage.base import ObjectStore, content_key, sha256_file
from .spec import CREDITS_CSV, CREDITS_JSON, MEDIA_TYPE
from .writer import BundleInput, flac, write_bundle

ATTACH_FUNC = "jobs.render.attach_shf_job"
ProgressFn = Callable[[int, str], None]


def bundle_input(files: dict[str, bytes], render_manifest: dict, master_wav: Path, work: Path,
                 stems: dict[str, Path] | None = None, instruments: dict[str, Instrument] | None = None,
                 composition_ref: dict | None = None, musicxml: bool = True, samples=None,
                 credits: dict[str, bytes] | None = None) -> BundleInput:
    """What the bundle of a render holds. ``samples`` (a sample-library resolver) finds the library
    samples the render used (its manifest's ``samples``): the bundle carries them, SoundFonts as
    subsets of the presets the piece can use, and ``render.samples`` maps each sha256 the
    instrument files name to its member. ``credits``: the version's credits members
    (:func:`companion.rights.credits.bundle_credits`), named in the manifest's ``credits``."""
    comp = Composition.from_files(files)
    comp.parse_all()
    instruments = instruments or load_instruments()
    gen = comp.meta_extra.get("generation")
    if gen is not None:
        gen = {**gen, "measures": comp.measures, "title": comp.title}
    inp = BundleInput(title=comp.title or "Untitled", composition=composition_ref or {}, generation=gen,
                      render={k: render_manifest.get(k) for k in ("key", "settings", "engines", "duration", "measures",
                                                                  "render_version", "composition_digest",
                                                                  "instruments_digest")}
                      | {"loudness_lufs": (render_manifest.get("mixdown") or {}).get("loudness_lufs"),
                         "master_sha256_wav": (render_manifest.get("mixdown") or {}).get("sha256")})
    inp.add("audio/master.flac", flac(master_wav, work / "master.flac"))
    for part, path in sorted((stems or {}).items()):
        inp.add(f"audio/stems/{part}.flac", flac(path, work / f"stem-{part}.flac"))
    for name, data in sorted(files.items()):
        inp.add(f"composition/{name}", data)
    from ..compositions.midi import write_midi
    inp.add("score/score.mid", write_midi(comp))
    if musicxml:
        try:
            from ..compositions.musicxml import write_musicxml
            inp.add("score/score.musicxml", write_musicxml(comp))
        except Exception:  # MusicXML is a convenience copy; the canonical files are authoritative
            pass
    for name, data in source_files().items():
        inp.add(f"algorithms/{name}", data)
    for inst in sorted(instruments.values(), key=lambda i: i.id):
        inp.add(f"instruments/{inst.id}.toml", inst.source.encode())
    used = render_manifest.get("samples") or {}
    if used:
        from ..samples.library import default_resolver
        from ..samples.usage import bundle_files

        members, entries = bundle_files(used, samples or default_resolver(), work / "samples", comp, instruments)
        for name, path in members.items():
            inp.add(name, path)
        inp.render["samples"] = entries
    if credits:
        for name, data in sorted(credits.items()):
            inp.add(name, data)
        doc = json.loads(credits[CREDITS_JSON])
        inp.extra["credits"] = {"file": CREDITS_JSON, "split_sheet": CREDITS_CSV if CREDITS_CSV in credits else None,
                                "composition": doc.get("composition"), "version": (doc.get("version") or {}).get("id")}
    inp.add("render/settings.json", (json.dumps(render_manifest.get("settings") or {}, indent=2, sort_keys=True)
                                     + "\n").encode())
    return inp


def build_from_store(store: ObjectStore, files: dict[str, bytes], render_manifest: dict, out: Path, private,
                     work_dir: Path, include_stems: bool = False, composition_ref: dict | None = None,
                     musicxml: bool = True, credits: dict[str, bytes] | None = None) -> Path:
    """Write the SHF of a render (its manifest as :func:`companion.render.service.render_version` returns)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="shf-", dir=work_dir))
    try:
        def local(key: str, name: str) -> Path:
            p = store.local_path(key)
            if p is None:
                p = work / name
                store.download(key, p)
            return Path(p)

        master = local(render_manifest["mixdown"]["key"], "mixdown.wav")
        stems = {}
        if include_stems:
            for s in render_manifest.get("stems", []):
                if s.get("key"):
                    stems[s["part"]] = local(s["key"], f"{s['part']}.wav")
        from ..samples.library import default_resolver

        inp = bundle_input(files, render_manifest, master, work, stems, composition_ref=composition_ref,
                           musicxml=musicxml, samples=default_resolver(store, work_dir / "samples"),
                           credits=credits)
        return write_bundle(out, inp, private)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def store_bundle(store: ObjectStore, files: dict[str, bytes], render_manifest: dict, private, work_dir: Path,
                 composition: str, commit: str, include_stems: bool = False, musicxml: bool = True,
                 credits: dict[str, bytes] | None = None) -> dict:
    """Build the render's SHF and store it under its content hash (idempotent); {key, sha256, size}."""
    work_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="shf-", dir=work_dir))
    try:
        out = work / f"{composition}.shf"
        build_from_store(store, files, render_manifest, out, private, work, include_stems=include_stems,
                         composition_ref={"id": composition, "commit": commit}, musicxml=musicxml, credits=credits)
        sha = sha256_file(out)
        key = content_key("shf", sha, f"{composition}-{commit[:10]}.shf")
        if not store.exists(key):
            store.put_file(key, out, MEDIA_TYPE)
        return {"key": key, "sha256": sha, "size": out.stat().st_size}
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --------------------------------------------------------------------------- a render's release

@dataclasses.dataclass(frozen=True)
class RenderRequest:
    """What a render job was asked for (its row's params).

    Attributes:
        composition, commit: the version (the commit resolved when the render was asked for).
        settings: render settings (see companion.render.service.RenderSettings).
        publish: make the mixdown a track (release pipeline) with the SHF as a download.
        title: the new track's title; track_id: publish into this track instead of a new one.
        stems: put the stems in the SHF; musicxml: put a MusicXML copy of the score in it.
    """

    composition: str
    commit: str
    settings: dict = dataclasses.field(default_factory=dict)
    publish: bool = False
    title: str = ""
    track_id: int | None = None
    stems: bool = False
    musicxml: bool = True

    @classmethod
    def from_params(cls, p: dict) -> "RenderRequest":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in p.items() if k in known and v is not None})


def render_release(svc, req: RenderRequest, created_by: str | None, progress: ProgressFn,
                   remember: Callable[[dict], None] = lambda params: None) -> dict[str, Any]:
    """Render the version (cached by content), store its SHF and, when ``req.publish``, release the
    mixdown as a track with the SHF attached after the release. Retry-safe: a track created by an
    earlier attempt is reused (``remember`` stores its id with the job's params)."""
    from ..compositions.store import Store
    from ..render.publish import publish_render
    from ..render.service import RenderSettings, render_version
    from .keys import signing_key

    store = Store(svc.config.compositions_dir)
    repo = store.repo(req.composition)
    commit = str(store.resolve(repo, req.commit).id)
    files = store.read_files(repo, store.resolve(repo, commit))
    manifest = render_version(svc.store, files, svc.config.work_dir, RenderSettings.from_dict(req.settings),
                              source={"composition": req.composition, "commit": commit},
                              workers=max(1, svc.config.encode_workers or 2),
                              progress=lambda pct, stage: progress(int(pct * 0.8), stage))
    progress(82, "shf")
    shf = store_bundle(svc.store, files, manifest, signing_key(svc.config), svc.config.work_dir, req.composition,
                       commit, include_stems=req.stems, musicxml=req.musicxml,
                       credits=release_credits(svc, store, req.composition, commit))
    result = {"render_key": manifest["key"], "cached": manifest["cached"], "duration": manifest["duration"],
              "mixdown_key": manifest["mixdown"]["key"], "loudness_lufs": manifest["mixdown"].get("loudness_lufs"),
              "stems": [{"part": s["part"], "engine": s["engine"], "key": s.get("key")} for s in manifest["stems"]],
              "engines": manifest["engines"], "shf": shf, "composition": req.composition, "commit": commit}
    if req.publish:
        progress(90, "publish")
        track_id, release_job = publish_render(svc, manifest, req.title or req.composition, req.track_id, created_by,
                                               f"{req.composition}-{commit[:10]}.wav",
                                               on_track=lambda tid: remember({"track_id": tid}),
                                               version=(req.composition, commit))
        shf_job = queue_attach(svc, track_id, shf, manifest["duration"], release_job, created_by)
        result.update(track_id=track_id, release_job=release_job, shf_job=shf_job)
    return result


def release_credits(svc, store, composition: str, commit: str) -> dict[str, bytes]:
    """The credits members of the version's bundle: the split sheet and the per-note provenance summary
    (companion/rights/credits.py), with the composition's ISWC when it has one."""
    from ..rights.credits import bundle_credits, codes_of

    with svc.db.session() as s:
        iswc = codes_of(s, composition)["iswc"]
    return bundle_credits(store, svc.band, composition, commit, iswc)


def queue_attach(svc, track_id: int, shf: dict, duration: float | None, release_job: str,
                 created_by: str | None) -> str:
    """Queue the job that attaches the SHF to the track once its release job has ended (it replaces the
    track's renditions, so the SHF goes on after it). A job row like any other: state and progress."""
    from ..tasks.service import create_job, submit

    with svc.db.session() as s:
        job = create_job(s, kind="shf_attach", track_id=track_id, created_by=created_by,
                         params={"shf": shf, "duration": duration, "release_job": release_job})
    submit(svc, job, ATTACH_FUNC, after=f"shm-{release_job}")
    return job.id


def attach_after_release(svc, job_id: str, progress: ProgressFn) -> dict:
    """The attach job: add (or update) the track's ``shf`` download rendition once the release it waits for
    has finished. A failed release leaves nothing to attach to (a permanent failure of this job)."""
    from ..tasks.models import Job

    with svc.db.session() as s:
        job = s.get(Job, job_id)
        p, track_id = dict(job.params), job.track_id
        release = s.get(Job, p["release_job"])
        state = release.state if release is not None else "missing"
    if state in ("failed", "missing"):
        raise Conflict(f"the release job {p['release_job']} {state}: the SHF has no track to join",
                       code="release_failed")
    if state != "finished":
        raise RuntimeError(f"the release job {p['release_job']} is {state}; trying again later")
    progress(50, "attach")
    from ..render.publish import attach_shf

    shf = p["shf"]
    with svc.db.session() as s:
        changed = attach_shf(s, track_id, shf["key"], shf["size"], shf["sha256"], p.get("duration"))
    return {"track_id": track_id, "shf_key": p["shf"]["key"], "changed": changed}

