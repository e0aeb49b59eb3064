"""The shared composition store: two "machines" (two caches) over one database and one object store.

Real parts: PostgreSQL for the refs where the compare-and-swap matters, moto's S3 server for the objects.
"""
from __future__ import annotations

import hashlib
import shutil
import threading
import zlib
from pathlib import Path

import pytest

from companion.compositions import service as S
from companion.compositions.shared import OBJECT_PREFIX, SharedStore, object_key
from companion.compositions.store import Store, use_local
from companion.errors import Conflict, NotFound, ServiceUnavailable

from tests.conftest import make_database_url
from tests.compositions.conftest import PARTS, make_shared_store


@pytest.fixture
def machines(tmp_path, request):
    """Two stores sharing a PostgreSQL database and an S3 bucket, each with its own cache folder."""
    from companion.storage.s3 import S3Store

    s3 = request.getfixturevalue("s3_settings")
    url = make_database_url("postgresql", tmp_path, request)
    objects = S3Store(bucket=s3["s3_bucket"], endpoint_url=s3["s3_endpoint_url"], access_key_id="testing",
                      secret_access_key="testing", region="us-east-1")
    a = make_shared_store(tmp_path / "a", url, objects)
    b = make_shared_store(tmp_path / "b", url, objects)
    yield a, b
    a.db.dispose()
    b.db.dispose()


def _song(store, band, actors):
    r = S.create_composition(store, band, actors["ivory"], "Blue Dot", parts=PARTS, measures=4)
    return r["head"]


def _change(n):
    return {"parts": {"piano": {"measures": {"1": f"0 C4 1 v{60 + n}"}}}}


def test_a_commit_on_one_machine_is_read_on_the_other_and_a_deleted_cache_is_refilled(machines, band, actors):
    a, b = machines
    head = _song(a, band, actors)
    c = S.commit_change(a, band, actors["ivory"], "blue-dot", "main", head, "On A", _change(1))
    assert b.exists("blue-dot") and b.ids() == ["blue-dot"]
    assert b.head(b.repo("blue-dot"), "main") == c["id"]
    c2 = S.commit_change(b, band, actors["ivory"], "blue-dot", "main", c["id"], "On B", _change(2))
    log = [h["id"] for h in S.history(a, band, actors["ivory"], "blue-dot", "main")]
    assert log == [c2["id"], c["id"], head]
    # the cache is only a cache: delete it, and the next read fetches everything back from S3
    shutil.rmtree(a.root)
    repo = a.repo("blue-dot")
    assert a.head(repo, "main") == c2["id"]
    assert [x.id for x in repo.walk(repo.head.target)] == [repo[c2["id"]].id, repo[c["id"]].id, repo[head].id]


def test_every_object_of_every_commit_is_in_the_store_as_a_loose_git_object(machines, band, actors):
    a, _ = machines
    head = _song(a, band, actors)
    S.commit_change(a, band, actors["ivory"], "blue-dot", "main", head, "One", _change(1))
    repo = a.repo("blue-dot")
    wanted = set()
    for commit in repo.walk(repo.head.target):
        wanted.add(str(commit.id))
        stack = [commit.tree]
        while stack:
            tree = stack.pop()
            wanted.add(str(tree.id))
            for e in tree:
                (stack.append(repo[e.id]) if e.type_str == "tree" else wanted.add(str(e.id)))
    stored = {k.rsplit("/", 1)[1] for k in a.objects.list(OBJECT_PREFIX + "/")}
    assert wanted <= stored
    for oid in wanted:
        whole = zlib.decompress(a.objects.get_bytes(object_key(oid)))
        assert hashlib.sha1(whole).hexdigest() == oid


def test_two_machines_racing_one_parent_exactly_one_wins(machines, band, actors):
    a, b = machines
    head = _song(a, band, actors)
    b.repo("blue-dot")  # both caches warm
    results: dict[str, object] = {}
    start = threading.Barrier(2)

    def commit(name, store, n):
        start.wait()
        try:
            results[name] = S.commit_change(store, band, actors["ivory"], "blue-dot", "main", head, name,
                                            _change(n))["id"]
        except Conflict as exc:
            results[name] = exc

    threads = [threading.Thread(target=commit, args=("A", a, 1)), threading.Thread(target=commit, args=("B", b, 2))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    won = [k for k, v in results.items() if isinstance(v, str)]
    lost = [v for v in results.values() if isinstance(v, Conflict)]
    assert len(won) == 1 and len(lost) == 1, results
    assert lost[0].code == "stale_parent" and lost[0].status == 409
    assert lost[0].details["head"] == results[won[0]]
    for store in (a, b):
        repo = store.repo("blue-dot")
        assert [str(c.id) for c in repo.walk(repo.head.target)] == [results[won[0]], head]


def test_many_racing_writers_lose_nothing(machines, band, actors):
    """Eight threads over two machines each commit three times, rebasing on a 409: every accepted commit
    is in main's history exactly once."""
    a, b = machines
    _song(a, band, actors)
    accepted: list[str] = []
    lock = threading.Lock()

    def writer(i):
        store = (a, b)[i % 2]
        for n in range(3):
            while True:
                head = store.head(store.repo("blue-dot"), "main")
                try:
                    cid = S.commit_change(store, band, actors["ivory"], "blue-dot", "main", head, f"w{i}-{n}",
                                          _change(i * 3 + n))["id"]
                except Conflict:
                    continue
                with lock:
                    accepted.append(cid)
                break

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    repo = b.repo("blue-dot")
    history = [str(c.id) for c in repo.walk(repo.head.target)]
    assert len(accepted) == 24 and len(set(accepted)) == 24
    assert sorted(history[:-1]) == sorted(accepted)  # the rest: the first commit


def test_branch_tag_and_merge_across_machines(machines, band, actors):
    a, b = machines
    head = _song(a, band, actors)
    S.create_branch(a, band, actors["ivory"], "blue-dot", "idea", head)
    c = S.commit_change(b, band, actors["ivory"], "blue-dot", "idea", head, "Idea", _change(5))
    merged = S.merge(a, band, actors["ivory"], "blue-dot", "idea", "main", message="Merge idea")
    assert merged["status"] == "fast_forward" and merged["id"] == c["id"]
    assert a.head(a.repo("blue-dot"), "main") == b.head(b.repo("blue-dot"), "main") == c["id"]
    # a real merge (two sides moved), made on B, read on A
    d = S.commit_change(a, band, actors["ivory"], "blue-dot", "main", c["id"], "Main", {"parts": {
        "bass": {"measures": {"3": "0 C2 4 v90"}}}})
    e = S.commit_change(a, band, actors["ivory"], "blue-dot", "idea", c["id"], "Idea 2", _change(6))
    m = S.merge(b, band, actors["ivory"], "blue-dot", "idea", "main", message="Merge idea again")
    assert a.repo("blue-dot")[m["id"]].parent_ids == [a.repo("blue-dot")[d["id"]].id,
                                                        a.repo("blue-dot")[e["id"]].id]
    S.create_tag(b, band, actors["ivory"], "blue-dot", "v1", "main", "first")
    assert [t["name"] for t in a.tags(a.repo("blue-dot"))] == ["v1"]
    with pytest.raises(Conflict) as exc:
        S.create_tag(a, band, actors["ivory"], "blue-dot", "v1", "main", "again")
    assert exc.value.code == "tag_exists"
    a.delete_tag("blue-dot", "v1")
    assert b.tags(b.repo("blue-dot")) == []
    a.delete_branch("blue-dot", "idea")
    assert [x["name"] for x in b.branches(b.repo("blue-dot"))] == ["main"]


def test_a_missing_or_corrupt_object_is_a_clear_503_not_a_crash(tmp_path, band, actors):
    a = make_shared_store(tmp_path / "a", f"sqlite:///{tmp_path / 'refs.db'}")
    from companion.storage import LocalStore

    objects = LocalStore(tmp_path / "a" / "objects")
    head = _song(a, band, actors)
    b = SharedStore(tmp_path / "b" / "compositions", a.db, objects)
    key = object_key(head)
    good = objects.get_bytes(key)
    objects.delete(key)
    with pytest.raises(ServiceUnavailable) as exc:
        b.repo("blue-dot")
    assert exc.value.status == 503 and exc.value.code == "composition_object_missing"
    assert exc.value.details == {"composition": "blue-dot", "object": head}
    # corrupt: other bytes under the commit's key (a valid object, but not this one), then garbage
    objects.put_bytes(key, zlib.compress(b"blob 3\0abc"))
    with pytest.raises(ServiceUnavailable) as exc:
        b.repo("blue-dot")
    assert exc.value.code == "composition_object_corrupt"
    objects.put_bytes(key, b"not zlib at all")
    with pytest.raises(ServiceUnavailable) as exc:
        b.repo("blue-dot")
    assert exc.value.code == "composition_object_corrupt"
    assert not (b.root / "blue-dot.git" / "refs" / "heads" / "main").exists()  # nothing half-synced
    objects.put_bytes(key, good)
    assert b.head(b.repo("blue-dot"), "main") == head


@pytest.mark.parametrize("comp_id", ["../escape", "..", "a/b", "/etc", "x.git/..", "Blue", "-x", "a" * 65,
                                     "blue-dot/../../x", "%2e%2e"])
def test_composition_ids_with_path_tricks_touch_nothing(tmp_path, band, actors, comp_id):
    store = make_shared_store(tmp_path)
    before = sorted(p for p in tmp_path.rglob("*"))
    assert store.exists(comp_id) is False
    with pytest.raises(NotFound):
        store.repo(comp_id)
    with pytest.raises(NotFound):
        store.create(comp_id, {"a.txt": b"x"}, S.author_for(actors["ivory"]), "x")
    assert sorted(p for p in tmp_path.rglob("*")) == before
    assert store.ids() == []


def test_the_setting_picks_the_store(tmp_path):
    from companion.config import Config
    from companion.services import Services

    cfg = Config(var_dir=tmp_path / "var", composition_store="shared")
    svc = Services(cfg)
    try:
        assert type(Store(cfg.compositions_dir)) is SharedStore
        assert type(Store(tmp_path / "elsewhere")) is Store
    finally:
        use_local(cfg.compositions_dir)
        svc.close()
    assert type(Store(cfg.compositions_dir)) is Store
    with pytest.raises(ValueError):
        Config(var_dir=tmp_path / "var", composition_store="nfs")


def test_through_the_api_a_missing_object_is_a_503_json_error_and_path_tricks_are_404(app_with, tmp_path):
    import shutil as sh

    from companion.storage import LocalStore

    app = app_with(composition_store="shared")
    client = app.test_client()
    h = {"Authorization": f"Bearer {app.test_tokens['ivory']}"}
    r = client.post("/api/compositions/", json={"title": "Blue Dot", "measures": 2, "parts": PARTS[:1]}, headers=h)
    assert r.status_code == 201, r.json
    head = r.json["head"]
    cfg = app.config["SCRIPTHAMMER"]
    objects = LocalStore(cfg.storage_dir)
    good = objects.get_bytes(object_key(head))
    objects.delete(object_key(head))
    sh.rmtree(cfg.compositions_dir)  # this machine's cache is gone: the read must come from the store
    r = client.get("/api/compositions/blue-dot", headers=h)
    assert r.status_code == 503 and r.json["code"] == "composition_object_missing", r.json
    assert r.json["details"] == {"composition": "blue-dot", "object": head}
    objects.put_bytes(object_key(head), b"\x78\x9c garbage")
    r = client.get("/api/compositions/blue-dot", headers=h)
    assert r.status_code == 503 and r.json["code"] == "composition_object_corrupt", r.json
    objects.put_bytes(object_key(head), good)
    r = client.get("/api/compositions/blue-dot", headers=h)
    assert r.status_code == 200 and r.json["version"]["id"] == head
    for trick in ("..%2F..%2Fetc", "blue-dot.git", "..", "BLUE-DOT", "blue-dot%00"):
        r = client.get(f"/api/compositions/{trick}", headers=h)
        assert r.status_code == 404 and r.json["status"] == 404, (trick, r.status_code, r.data[:200])
        r = client.post(f"/api/compositions/{trick}/commits", headers=h,
                        json={"branch": "main", "parent": head, "message": "x", "changes": {}})
        assert r.status_code == 404, (trick, r.status_code)
    assert sorted(p.name for p in Path(cfg.compositions_dir).iterdir()) == ["shared-cache"]
    assert sorted(p.name for p in (Path(cfg.compositions_dir) / "shared-cache").iterdir()) == ["blue-dot.git"]


def test_a_machines_local_compositions_are_copied_into_the_shared_store_once(tmp_path, band, actors):
    """``scripthammer compositions share``: the local repositories go to the shared store; the shared store's
    cache sits apart from them and never touches them; a second run changes nothing; a ref that differs is
    reported, not overwritten."""
    from click.testing import CliRunner

    from companion.compositions.cli import compositions

    var = tmp_path / "var"
    local = Store(var / "compositions")
    head = _song(local, band, actors)
    c = S.commit_change(local, band, actors["ivory"], "blue-dot", "main", head, "Local", _change(1))
    S.create_tag(local, band, actors["ivory"], "blue-dot", "v1", "main", "first")
    env = {"SCRIPTHAMMER_VAR_DIR": str(var), "SCRIPTHAMMER_COMPOSITION_STORE": "shared"}
    from companion.db import upgrade

    upgrade(f"sqlite:///{var / 'companion.db'}")
    try:
        r = CliRunner().invoke(compositions, ["share"], env=env)
        assert r.exit_code == 0, r.output
        import json

        (report,) = json.loads(r.output)
        assert report["composition"] == "blue-dot" and report["created"] == ["refs/heads/main", "refs/tags/v1"]
        shared = Store(var / "compositions")
        assert isinstance(shared, SharedStore)
        assert shared.head(shared.repo("blue-dot"), "main") == c["id"]
        assert [t["name"] for t in shared.tags(shared.repo("blue-dot"))] == ["v1"]
        again = json.loads(CliRunner().invoke(compositions, ["share"], env=env).output)
        assert again[0]["created"] == [] and again[0]["conflicts"] == []
        # the shared store moves on; the local repository, untouched, now differs: reported, exit 2
        S.commit_change(shared, band, actors["ivory"], "blue-dot", "main", c["id"], "Shared", _change(2))
        assert Store(var / "compositions", local=True).head(local.repo("blue-dot"), "main") == c["id"]
        r = CliRunner().invoke(compositions, ["share"], env=env)
        assert r.exit_code == 2 and json.loads(r.output)[0]["conflicts"] == ["refs/heads/main"]
        assert shared.head(shared.repo("blue-dot"), "main") != c["id"]
    finally:
        use_local(var / "compositions")


def _process_writer(url, objects_dir, cache, i, parent):
    """One process, one machine: its own cache, the shared PostgreSQL refs and object folder."""
    from companion.band.roster import load_band
    from companion.compositions.rights import member_actor
    from companion.db import Database
    from companion.storage import LocalStore
    from tests.compositions.conftest import BAND_FILE

    band = load_band(BAND_FILE)
    ivory = member_actor(band, "ivory")
    store = SharedStore(cache, Database(url), LocalStore(objects_dir))
    out = {"first": None, "accepted": []}
    try:  # first: all start from one parent at once (exactly one may win)
        out["first"] = S.commit_change(store, band, ivory, "blue-dot", "main", parent, f"p{i}", _change(i))["id"]
    except Conflict as exc:
        out["first"] = exc.code
    for n in range(3):  # then: rebase on every 409 until each commit is in
        while True:
            head = store.head(store.repo("blue-dot"), "main")
            try:
                out["accepted"].append(S.commit_change(store, band, ivory, "blue-dot", "main", head, f"p{i}-{n}",
                                                       _change(10 * i + n))["id"])
                break
            except Conflict:
                continue
    store.db.dispose()
    return out


def test_racing_processes_over_postgresql_one_wins_and_nothing_is_lost(tmp_path, band, actors, request):
    import json
    import os
    import subprocess
    import sys

    url = make_database_url("postgresql", tmp_path, request)
    a = make_shared_store(tmp_path / "m0", url)
    head = _song(a, band, actors)
    objects_dir = tmp_path / "m0" / "objects"
    root = Path(__file__).resolve().parents[2]
    procs = []
    for i in range(1, 5):
        args = [url, str(objects_dir), str(tmp_path / f"m{i}" / "compositions"), i, head]
        code = ("import json, sys; from tests.compositions.test_shared_store import _process_writer; "
                f"print(json.dumps(_process_writer(*json.loads(sys.argv[1]))))")
        procs.append(subprocess.Popen([sys.executable, "-c", code, json.dumps(args)], cwd=root, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=str(root))))
    results = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err.decode()[-3000:]
        results.append(json.loads(out.decode().strip().splitlines()[-1]))
    firsts = [r["first"] for r in results]
    winners = [f for f in firsts if f != "stale_parent"]
    assert len(winners) == 1 and firsts.count("stale_parent") == 3, firsts
    accepted = winners + [c for r in results for c in r["accepted"]]
    repo = a.repo("blue-dot")
    history = [str(c.id) for c in repo.walk(repo.head.target)]
    assert len(accepted) == 13 and sorted(history[:-1]) == sorted(accepted) and history[-1] == head
    a.db.dispose()
