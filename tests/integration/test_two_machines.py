"""More than one machine: two companion processes (gunicorn) and three RQ workers, each with a var dir of
its own, sharing only PostgreSQL (a database of the test's own), a Redis db of its own and S3 (moto's
server), with SCRIPTHAMMER_COMPOSITION_STORE=shared.

Through both companions: racing commits to one composition (exactly one of two with the same parent
wins, the other is a 409), many writers on both (every accepted commit is in the history once), a
branch and a merge, a render enqueued on one and read on the other, a release uploaded to one and
played from the other. Then nothing lost or doubled: every job finished on its first attempt and was
run by exactly one worker, every git object of the history is in S3, and no var dir holds state that
another machine would need (a companion's cache deleted, the history reads the same).
"""
from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
import threading
import time
import uuid

import pytest
import requests
import sqlalchemy as sa

from tests.conftest import build_config, free_port, make_audio, make_database_url, prepare, start_server, \
    stop_group, wait_for_port
from tests.faults.procs import REPO, config_env, start_worker, wait_until

P = "/api/compositions"
PARTS = [{"id": "piano", "kind": "melody", "owner": "ivory", "program": 0, "channel": 0},
         {"id": "bass", "kind": "rhythm", "owner": "crash", "program": 33, "channel": 1}]


class Machine:
    """One companion: gunicorn (two workers) on a port of its own, with its own var dir."""

    def __init__(self, config, log):
        self.config, self.port = config, free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = config_env(config, SCRIPTHAMMER_HOST="127.0.0.1", SCRIPTHAMMER_PORT=str(self.port))
        self.proc = start_server([sys.executable, "-m", "companion.cli", "serve", "--workers", "2"], cwd=REPO,
                                 env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT)

    def wait(self, log):
        wait_for_port(self.port, timeout=60)
        wait_until(lambda: self._ok(), 120, what=f"companion on {self.port} answering")

    def _ok(self):
        try:
            return requests.get(self.base + "/api/members", timeout=5).status_code == 200
        except requests.RequestException:
            return False


@pytest.fixture
def cluster(tmp_path, redis_url, request):
    s3 = request.getfixturevalue("s3_settings")
    url = make_database_url("postgresql", tmp_path, request)
    shared_redis = redis_url.rsplit("/", 1)[0] + "/5"  # a Redis db of its own
    base = build_config(tmp_path / "m0", url, shared_redis, composition_store="shared", **s3,
                        queue_name=f"shm-2m-{uuid.uuid4().hex[:8]}", job_retries=1)
    configs = {name: dataclasses.replace(base, var_dir=tmp_path / name, compositions_dir=str(tmp_path / name / "comps"),
                                         storage_dir=str(tmp_path / name / "objects"))
               for name in ("api-a", "api-b", "worker-1", "worker-2", "worker-3")}
    tokens = prepare(configs["api-a"])  # migrations, the band, tokens: all in PostgreSQL
    from jobs import context

    context.configure(None)
    logs = {name: tmp_path / f"{name}.log" for name in configs}
    procs = []
    try:
        a, b = Machine(configs["api-a"], logs["api-a"]), Machine(configs["api-b"], logs["api-b"])
        procs += [a.proc, b.proc]
        workers = [start_worker(configs[w], None, logs[w], name=f"{w}-{uuid.uuid4().hex[:6]}")
                   for w in ("worker-1", "worker-2", "worker-3")]
        procs += workers
        a.wait(logs["api-a"])
        b.wait(logs["api-b"])
        yield {"a": a, "b": b, "tokens": tokens, "configs": configs, "logs": logs, "db_url": url, "tmp": tmp_path}
    finally:
        for p in procs:
            stop_group(p)


def _h(tokens, who="ivory"):
    return {"Authorization": f"Bearer {tokens[who]}"}


def _commit(m, tokens, parent, n, branch="main", part="piano", who="ivory"):
    note = ["C4", "D4", "E4", "F4", "G4", "A4", "B4", "C5"][n % 8]
    return requests.post(f"{m.base}{P}/duo/commits", headers=_h(tokens, who), timeout=60, json={
        "branch": branch, "parent": parent, "message": f"edit {n} on {m.port}",
        "changes": {"parts": {part: {"measures": {str(1 + n % 4): f"0 {note} 1 v{40 + n % 80} ; 2 {note} 2 v70"}}}}})


def _head(m, tokens, branch="main"):
    r = requests.get(f"{m.base}{P}/duo/branches", headers=_h(tokens), timeout=30)
    assert r.status_code == 200, r.text
    return {x["name"]: x["head"] for x in r.json()}[branch]


def _history(m, tokens, rev="main"):
    r = requests.get(f"{m.base}{P}/duo/history", params={"rev": rev, "limit": 1000}, headers=_h(tokens), timeout=60)
    assert r.status_code == 200, r.text
    return [c["id"] for c in r.json()]


def test_two_companions_three_workers_share_only_postgres_redis_and_s3(cluster):
    a, b, tokens = cluster["a"], cluster["b"], cluster["tokens"]
    r = requests.post(f"{a.base}{P}/", headers=_h(tokens), timeout=60,
                      json={"title": "Duo", "id": "duo", "measures": 4, "parts": PARTS})
    assert r.status_code == 201, r.text
    first = r.json()["head"]
    assert _head(b, tokens) == first  # created on A, read on B
    accepted = []

    # 1. racing commits with one parent, one through each companion: exactly one wins, five times over
    for round_ in range(5):
        parent = _head(a, tokens)
        out = {}
        go = threading.Barrier(2)

        def race(name, m, n):
            go.wait()
            out[name] = _commit(m, tokens, parent, n)

        ts = [threading.Thread(target=race, args=("a", a, 2 * round_)),
              threading.Thread(target=race, args=("b", b, 2 * round_ + 1))]
        [t.start() for t in ts]
        [t.join() for t in ts]
        codes = sorted(r.status_code for r in out.values())
        assert codes == [201, 409], {k: (v.status_code, v.text) for k, v in out.items()}
        won = next(v for v in out.values() if v.status_code == 201).json()["id"]
        lost = next(v for v in out.values() if v.status_code == 409).json()
        assert lost["code"] == "stale_parent" and lost["details"]["head"] == won
        accepted.append(won)
        assert _head(a, tokens) == _head(b, tokens) == won

    # 2. six writers over both companions, each committing three times, rebasing on a 409
    lock = threading.Lock()

    def writer(i):
        m = (a, b)[i % 2]
        for n in range(3):
            for _ in range(200):
                r = _commit(m, tokens, _head(m, tokens), 100 + i * 3 + n)
                if r.status_code == 201:
                    with lock:
                        accepted.append(r.json()["id"])
                    break
                assert r.status_code == 409 and r.json()["code"] == "stale_parent", r.text
            else:
                raise AssertionError("a writer never got a commit in")

    ts = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert len(accepted) == 23 and len(set(accepted)) == 23

    # 3. a branch made on B, a commit on it through A, the merge through B, read on A
    main_head = _head(b, tokens)
    assert requests.post(f"{b.base}{P}/duo/branches", headers=_h(tokens), timeout=30,
                         json={"name": "bridge"}).status_code == 201
    side = _commit(a, tokens, main_head, 7, branch="bridge", part="bass", who="crash")
    assert side.status_code == 201, side.text
    on_main = _commit(b, tokens, main_head, 3)
    assert on_main.status_code == 201, on_main.text
    accepted += [side.json()["id"], on_main.json()["id"]]
    merged = requests.post(f"{b.base}{P}/duo/merge", headers=_h(tokens), timeout=60,
                           json={"source": "bridge", "target": "main", "message": "Merge the bridge"})
    assert merged.status_code in (200, 201), merged.text
    accepted.append(merged.json()["id"])
    history = _history(a, tokens)
    assert history[0] == merged.json()["id"] and history[-1] == first
    assert sorted(history[:-1]) == sorted(accepted)  # every accepted commit once, nothing else
    assert len(history) == len(set(history))

    # 4. a render (published as a track) enqueued on A, run by the workers, read on B
    r = requests.post(f"{a.base}/api/render/renders", headers=_h(tokens), timeout=60,
                      json={"composition": "duo", "rev": "main", "publish": True, "title": "Duo"})
    assert r.status_code == 202, r.text
    render_job = r.json()["job"]
    # 5. a release: a recording uploaded to B, released by the workers, played from A
    t = requests.post(f"{b.base}/api/tracks", headers=_h(tokens), json={"title": "Two Machines"}, timeout=30)
    assert t.status_code == 201, t.text
    track_id = t.json()["id"]
    take = make_audio(cluster["tmp"] / "take.wav", seconds=5)
    with open(take, "rb") as fh:
        up = requests.post(f"{b.base}/api/tracks/{track_id}/upload", headers=_h(tokens), timeout=120,
                           files={"file": ("take.wav", fh, "audio/wav")})
    assert up.status_code == 202, up.text

    def render_done():
        st = requests.get(f"{b.base}/api/render/renders/{render_job}", headers=_h(tokens), timeout=30).json()
        return st if st["state"] in ("finished", "failed") else None

    st = wait_until(render_done, 600, interval=1, what="the render")
    assert st["state"] == "finished", (st, _tail(cluster))
    shf = requests.get(b.base + st["shf_url"],
                       headers=_h(tokens), timeout=60)
    assert shf.status_code == 200 and shf.content[:2] == b"PK"
    assert st["result"]["commit"] == history[0]

    def released():
        tr = requests.get(f"{a.base}/api/tracks/{track_id}", headers=_h(tokens), timeout=30).json()
        return tr if tr["status"] in ("ready", "failed") else None

    track = wait_until(released, 600, interval=1, what="the release")
    assert track["status"] == "ready", (track, _tail(cluster))
    names = [x["name"] for x in track["renditions"]]
    assert names and len(names) == len(set(names))
    mp3 = next(x for x in track["renditions"] if x["format"] == "mp3")
    url = mp3["url"] if mp3["url"].startswith("http") else a.base + mp3["url"]
    audio = requests.get(url, headers=_h(tokens), timeout=60)
    assert audio.status_code == 200 and len(audio.content) == mp3["size"]

    # 6. nothing doubled: every job finished on its first attempt, run by exactly one worker
    wait_until(lambda: _all_settled(cluster["db_url"]), 300, interval=1, what="every job settled")
    eng = sa.create_engine(cluster["db_url"])
    with eng.connect() as c:
        jobs = c.execute(sa.text("SELECT id, kind, state, attempts FROM jobs")).all()
    eng.dispose()
    kinds = {j.kind for j in jobs}
    assert {"render", "release"} <= kinds, jobs
    assert all(j.state == "finished" and j.attempts == 1 for j in jobs), jobs
    logs = "".join(cluster["logs"][w].read_text(errors="replace") for w in ("worker-1", "worker-2", "worker-3"))
    for j in jobs:
        assert logs.count(f"Job OK (shm-{j.id})") == 1, (j, logs[-3000:])
    ran_on = {w for w in ("worker-1", "worker-2", "worker-3") if "Job OK" in cluster["logs"][w].read_text()}
    assert ran_on, logs[-2000:]

    # the render read the composition on a worker's machine: through its own cache, filled from S3
    assert any((cluster["tmp"] / w / "comps" / "shared-cache" / "duo.git" / "objects").is_dir()
               for w in ("worker-1", "worker-2", "worker-3"))
    eng = sa.create_engine(cluster["db_url"])
    with eng.connect() as c:
        refs = dict(c.execute(sa.text("SELECT name, target FROM composition_refs WHERE composition = 'duo'")).all())
    eng.dispose()
    assert refs == {"refs/heads/main": history[0], "refs/heads/bridge": side.json()["id"]}

    # 7. nothing lost: every object of the history is in S3, and a companion's cache is only a cache
    from companion.compositions.shared import OBJECT_PREFIX
    from companion.storage import open_store

    store = open_store(cluster["configs"]["api-a"])
    stored = {k.rsplit("/", 1)[1] for k in store.list(OBJECT_PREFIX + "/")}
    assert set(history) <= stored
    shutil.rmtree(cluster["configs"]["api-a"].compositions_dir)
    assert _history(a, tokens) == history
    got = requests.get(f"{a.base}{P}/duo", params={"text": 1}, headers=_h(tokens), timeout=30).json()
    assert got["version"]["id"] == history[0]
    # and no machine's var dir holds a composition repository of its own: only caches
    for name in ("api-b", "worker-1", "worker-2", "worker-3"):
        comps = cluster["configs"][name].compositions_dir
        shutil.rmtree(comps, ignore_errors=True)
    assert _history(b, tokens) == history


def _all_settled(url):
    eng = sa.create_engine(url)
    try:
        with eng.connect() as c:
            return c.execute(sa.text("SELECT count(*) FROM jobs WHERE state NOT IN ('finished', 'failed')")).scalar() == 0
    finally:
        eng.dispose()


def _tail(cluster):
    return {name: log.read_text(errors="replace")[-2500:] for name, log in cluster["logs"].items()}


def test_the_compose_stack_runs_two_companions_behind_a_proxy_on_the_shared_store():
    import yaml

    doc = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = doc["services"]
    assert doc["x-companion-env"]["SCRIPTHAMMER_COMPOSITION_STORE"] == "shared"
    assert doc["x-companion-env"]["SCRIPTHAMMER_STORAGE"] == "s3"
    conf = doc["configs"]["proxy_conf"]["content"]
    assert "server companion:8750" in conf and "server companion-2:8750" in conf
    assert services["proxy"]["ports"] == ["8750:8750"] and "ports" not in services["companion"]
    assert services["companion-2"]["command"] == ["scripthammer", "serve"]
    # the workers share no volume: only postgres, redis and minio
    for name, svc in services.items():
        if name.startswith("worker") or name == "companion-2":
            assert not svc.get("volumes"), name
