"""The render job: a composition version -> stems and mixdown (cached) -> SHF -> (optionally) a track.

Params of the job row: composition, commit (resolved when the job was asked for), settings,
publish (bool), title, track_id, stems (put stems in the SHF), requested_by (member id).
Idempotent: an unchanged version renders nothing (the render cache), the SHF is stored under
its content hash, and the release pipeline caches by its own key.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from companion.compositions.store import Store
from companion.render.publish import attach_shf, publish_mixdown
from companion.render.service import RenderSettings, render_version
from companion.shf.build import build_from_store
from companion.shf.keys import signing_key
from companion.storage.base import content_key, sha256_file
from companion.tasks.models import Job
from companion.tasks.service import set_progress
from jobs.base import running
from jobs.context import services


def render_job(job_id: str) -> dict:
    svc = services()
    result: dict = {}
    with running(svc, job_id):
        with svc.db.session() as s:
            job = s.get(Job, job_id)
            p = dict(job.params)
            created_by = job.created_by
        store = Store(svc.config.compositions_dir)
        repo = store.repo(p["composition"])
        commit = store.resolve(repo, p["commit"])
        files = store.read_files(repo, commit)
        settings = RenderSettings.from_dict(p.get("settings"))
        progress = lambda pct, stage: set_progress(svc, job_id, int(pct * 0.8), stage)
        manifest = render_version(svc.store, files, svc.config.work_dir, settings,
                                  source={"composition": p["composition"], "commit": str(commit.id)},
                                  workers=max(1, svc.config.encode_workers or 2), progress=progress)
        set_progress(svc, job_id, 82, "shf")
        title = p.get("title") or manifest.get("title") or p["composition"]
        shf = _store_shf(svc, files, manifest, p, str(commit.id))
        result = {"render_key": manifest["key"], "cached": manifest["cached"], "duration": manifest["duration"],
                  "mixdown_key": manifest["mixdown"]["key"], "loudness_lufs": manifest["mixdown"].get("loudness_lufs"),
                  "stems": [{"part": s_["part"], "engine": s_["engine"], "key": s_.get("key")}
                            for s_ in manifest["stems"]],
                  "engines": manifest["engines"], "shf": shf, "composition": p["composition"],
                  "commit": str(commit.id)}
        if p.get("publish"):
            set_progress(svc, job_id, 90, "publish")
            work = Path(tempfile.mkdtemp(prefix="publish-", dir=svc.config.work_dir))
            try:
                src = svc.store.local_path(manifest["mixdown"]["key"])
                if src is None:
                    src = work / "mixdown.wav"
                    svc.store.download(manifest["mixdown"]["key"], src)
                track_id, release_job = publish_mixdown(svc, Path(src), title, p.get("track_id"), created_by,
                                                        f"{p['composition']}-{str(commit.id)[:10]}.wav")
            finally:
                shutil.rmtree(work, ignore_errors=True)
            rq_dep = f"shm-{release_job}"
            svc.queue().enqueue_call("jobs.render.attach_shf_job", args=(track_id, shf["key"], shf["size"],
                                                                         shf["sha256"], manifest["duration"]),
                                     depends_on=rq_dep, result_ttl=86400, timeout=300)
            result.update(track_id=track_id, release_job=release_job)
        with svc.db.session() as s:
            job = s.get(Job, job_id)
            if result.get("track_id"):
                job.track_id = result["track_id"]
            job.result = result
    return result


def _store_shf(svc, files: dict, manifest: dict, p: dict, commit: str) -> dict:
    work = Path(tempfile.mkdtemp(prefix="shf-", dir=svc.config.work_dir))
    try:
        out = work / f"{p['composition']}.shf"
        build_from_store(svc.store, files, manifest, out, signing_key(svc.config), work,
                         include_stems=bool(p.get("stems")),
                         composition_ref={"id": p["composition"], "commit": commit},
                         musicxml=bool(p.get("musicxml", True)))
        sha = sha256_file(out)
        key = content_key("shf", sha, f"{p['composition']}-{commit[:10]}.shf")
        if not svc.store.exists(key):
            svc.store.put_file(key, out, "application/vnd.scripthammer.shf+zip")
        return {"key": key, "sha256": sha, "size": out.stat().st_size}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def attach_shf_job(track_id: int, key: str, size: int, sha256: str, duration: float | None = None) -> bool:
    """After the release job: add the SHF download to the track (idempotent)."""
    svc = services()
    with svc.db.session() as s:
        return attach_shf(s, track_id, key, size, sha256, duration)
