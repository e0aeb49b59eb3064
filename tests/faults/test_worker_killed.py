"""A worker SIGKILLed (with its work horse: a machine lost) mid-release and mid-render: RQ's abandoned-job
handling retries the job on another worker, it completes, nothing half-written is ever visible and
nothing is made twice. Real worker processes (`scripthammer worker --queues ...`)."""
from __future__ import annotations

import hashlib

import sqlalchemy as sa

from companion.catalog.models import Rendition, Track
from tests.conftest import make_audio, stop_group
from tests.faults.procs import job_row, sigkill_group, start_worker, wait_job, wait_until


def _renditions(svc, track_id: int) -> list[Rendition]:
    with svc.db.session() as s:
        return list(s.scalars(sa.select(Rendition).where(Rendition.track_id == track_id)))


def _assert_complete(svc, track_id: int) -> list[str]:
    """Every rendition of the track is whole in the store (size and sha256 as recorded), named once."""
    rows = _renditions(svc, track_id)
    names = [r.name for r in rows]
    assert rows and len(names) == len(set(names)), names
    for r in rows:
        data = svc.store.get_bytes(r.key)
        assert len(data) == r.size and hashlib.sha256(data).hexdigest() == r.sha256, r.name
    return names


def _generate(svc, title: str, seed: int, measures: int) -> dict:
    """A piece the band wrote on a branch, through the domain call (the generation API and its job are
    tested in tests/algorithms; this test is about the render job)."""
    from companion.algorithms.base import Params
    from companion.algorithms.generate import generate
    from companion.compositions.rights import member_actor
    from companion.compositions.store import Store

    return generate(Store(svc.config.compositions_dir), svc.band, member_actor(svc.band, "ivory"), title=title,
                    seed=seed, measures=measures, params=Params())


def _rq_is_clean(svc, kind: str) -> None:
    q = svc.queue(kind)
    assert q.count == 0 and q.failed_job_registry.count == 0 and q.started_job_registry.count == 0


def test_a_worker_killed_mid_release_is_retried_and_the_release_completes_once(app, client, auth, svc, tmp_path):
    log = tmp_path / "workers.log"
    first = start_worker(svc.config, "release", log)
    second = None
    try:
        take = make_audio(tmp_path / "take.wav", seconds=60)
        t = client.post("/api/tracks", json={"title": "Killed Mid-Release"}, headers=auth("ivory")).get_json()
        with open(take, "rb") as fh:
            up = client.post(f"/api/tracks/{t['id']}/upload", data={"file": (fh, "take.wav")},
                             headers=auth("ivory"), content_type="multipart/form-data").get_json()
        job_id = up["job_id"]
        at_kill = wait_until(lambda: (lambda r: r if r["state"] == "started" and r["progress"] >= 20 else None)(
            job_row(svc, job_id)), 300, interval=0.1, what="the release under way")
        killed = sigkill_group(first)
        assert len(killed) >= 2  # the worker and its work horse
        # Killed mid-way: nothing of the release is visible, the track still says processing.
        track = client.get(f"/api/tracks/{t['id']}", headers=auth("ivory")).get_json()
        assert track["status"] == "processing" and track["renditions"] == [], (at_kill, track)
        assert _renditions(svc, t["id"]) == []
        second = start_worker(svc.config, "release", log)  # another worker finds the abandoned job
        done = wait_job(svc, job_id, timeout=600)
        assert done["state"] == "finished", (done, log.read_text()[-3000:])
        assert done["attempts"] == 2 and done["error_code"] is None
        track = client.get(f"/api/tracks/{t['id']}", headers=auth("ivory")).get_json()
        assert track["status"] == "ready"
        names = _assert_complete(svc, t["id"])
        assert len(names) == done["result"]["renditions"] == len(track["renditions"])
        _rq_is_clean(svc, "release")
    finally:
        stop_group(first)
        stop_group(second)


def test_a_worker_killed_mid_render_and_again_mid_publish_makes_one_track(client, auth, svc, tmp_path):
    """Killed while rendering stems, then again once it has made the track and is handing the mixdown to
    the release pipeline: one track, released once, with its SHF."""
    log = tmp_path / "workers.log"
    workers = {"render": start_worker(svc.config, "render", log), "release": start_worker(svc.config, "release", log)}
    title = "Killed Mid-Render"
    try:
        gen = _generate(svc, title, seed=5, measures=12)
        r = client.post("/api/render/renders", json={"composition": gen["composition"], "rev": gen["branch"],
                                                     "publish": True, "title": title}, headers=auth("ivory"))
        assert r.status_code == 202, r.get_json()
        job_id = r.get_json()["job"]
        wait_until(lambda: (lambda r_: r_["state"] == "started" and 5 <= r_["progress"] < 80)(job_row(svc, job_id)),
                   300, interval=0.05, what="stems being rendered")
        sigkill_group(workers["render"])
        assert _tracks(svc, title) == []
        workers["render"] = start_worker(svc.config, "render", log)
        wait_until(lambda: _tracks(svc, title), 600, interval=0.02, what="the render's track made")
        at_kill = job_row(svc, job_id)
        sigkill_group(workers["render"])
        assert at_kill["state"] == "started" and at_kill["attempts"] == 2, at_kill  # killed inside the window
        workers["render"] = start_worker(svc.config, "render", log)
        done = wait_job(svc, job_id, timeout=600)
        assert done["state"] == "finished" and done["attempts"] == 3, (done, log.read_text()[-3000:])
        tracks = _tracks(svc, title)
        assert tracks == [done["result"]["track_id"]]  # one track, not one per attempt
        release = wait_job(svc, done["result"]["release_job"], timeout=600)
        assert release["state"] == "finished", release
        wait_until(lambda: "shf" in [r_.name for r_ in _renditions(svc, tracks[0])], 120, what="the SHF attached")
        names = _assert_complete(svc, tracks[0])
        assert names.count("shf") == 1
        assert {s["engine"] for s in done["result"]["stems"]} == {"fluidsynth", "supercollider"}
        _rq_is_clean(svc, "render")
    finally:
        for w in workers.values():
            stop_group(w)


def _tracks(svc, title: str) -> list[int]:
    with svc.db.session() as s:
        return list(s.scalars(sa.select(Track.id).where(Track.title == title)))
