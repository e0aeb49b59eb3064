"""Trying to get at compositions without the right, by every write route; each attempt is refused."""
from __future__ import annotations

import io

import pytest

from tests.band.test_signed_requests import CountingStream
from tests.compositions.test_api import _midi

P = "/api/compositions"


@pytest.fixture
def public_song(client, auth):
    """A public composition 'open-song' with a branch 'jam'; returns its main head."""
    h = auth("ivory")
    r = client.post(P + "/", headers=h, json={"title": "Open Song", "visibility": "public", "measures": 2, "parts": [
        {"id": "piano", "kind": "melody", "owner": "ivory"}, {"id": "bass", "kind": "rhythm", "owner": "crash"}]})
    assert r.status_code == 201, r.json
    assert client.post(f"{P}/open-song/branches", headers=h, json={"name": "jam"}).status_code == 201
    return r.json["head"]


def _heads(client, auth):
    h = auth("ivory")
    return {b["name"]: b["head"] for b in client.get(f"{P}/open-song/branches", headers=h).json}, \
        {t["name"] for t in client.get(f"{P}/open-song/tags", headers=h).json}


def _write_routes(head):
    """(method, path, json or multipart data) for every composition write, aimed at 'open-song'."""
    return [
        ("post", f"{P}/open-song/commits", {"json": {"branch": "jam", "parent": head, "message": "x",
                                                     "changes": {"parts": {"bass": {"measures": {"1": "0 C2 4 v90"}}}}}}),
        ("post", f"{P}/open-song/commits", {"json": {"branch": "main", "parent": head, "message": "x",
                                                     "changes": {"parts": {"bass": {"measures": {"1": "0 C2 4 v90"}}}}}}),
        ("post", f"{P}/open-song/import", {"data": {"file": (io.BytesIO(_midi()), "g.mid"), "parent": head,
                                                    "branch": "jam"}, "content_type": "multipart/form-data"}),
        ("post", f"{P}/open-song/branches", {"json": {"name": "guest-branch"}}),
        ("delete", f"{P}/open-song/branches/jam", {}),
        ("post", f"{P}/open-song/tags", {"json": {"name": "v1"}}),
        ("delete", f"{P}/open-song/tags/v0", {}),
        ("post", f"{P}/open-song/merge", {"json": {"source": "jam", "target": "main"}}),
    ]


def test_a_guest_without_a_composition_scope_writes_nowhere(client, auth, public_song, make_guest_token):
    """Hole 7: a guest token naming no composition could write to every public composition."""
    h = auth("ivory")
    assert client.post(f"{P}/open-song/tags", headers=h, json={"name": "v0"}).status_code == 201
    before = _heads(client, auth)
    # an invitation naming parts and branches but no composition (as the leader makes it through the API)
    r = client.post("/api/tokens", headers=h, json={"role": "guest", "expires_in_minutes": 60,
                                                    "scopes": {"parts": ["bass", "rhythm"], "branches": ["jam", "main"]}})
    assert r.status_code == 201, r.json
    assert "compositions" not in r.json["scopes"]
    guest = {"Authorization": "Bearer " + r.json["token"]}
    for method, path, kw in _write_routes(public_song):
        r = getattr(client, method)(path, headers=guest, **kw)
        assert r.status_code == 403, (method, path, r.status_code, r.json)
        assert r.json["code"] in ("guest_scope", "missing_right"), r.json
    # the one named elsewhere gets no further either
    other = {"Authorization": "Bearer " + make_guest_token(parts=["bass"], branches=["jam"], compositions=["x"])}
    for method, path, kw in _write_routes(public_song):
        assert getattr(client, method)(path, headers=other, **kw).status_code == 403, (method, path)
    # nothing changed, and the piece is still readable by everyone (public)
    assert _heads(client, auth) == before
    assert client.get(f"{P}/open-song", headers=guest).status_code == 200


def test_a_scoped_guest_commits_on_its_branch_but_cannot_delete_it(client, auth, public_song, make_guest_token):
    guest = {"Authorization": "Bearer " + make_guest_token(parts=["bass"], branches=["jam"],
                                                           compositions=["open-song"])}
    jam = _heads(client, auth)[0]["jam"]
    r = client.post(f"{P}/open-song/commits", headers=guest, json={
        "branch": "jam", "parent": jam, "message": "bass line", "changes": {"parts": {"bass": {"measures": {
            "1": "0 C2 4 v90"}}}}})
    assert r.status_code == 201, r.json
    r = client.delete(f"{P}/open-song/branches/jam", headers=guest)
    assert r.status_code == 403 and r.json["code"] == "guest_scope"
    assert "jam" in _heads(client, auth)[0]
    # a member with the right may
    assert client.delete(f"{P}/open-song/branches/jam", headers=auth("crash")).status_code == 204
    assert "jam" not in _heads(client, auth)[0]


ANONYMOUS_WRITES = [
    ("post", f"{P}/"), ("post", f"{P}/import"), ("post", f"{P}/open-song/commits"),
    ("post", f"{P}/open-song/import"), ("post", f"{P}/open-song/branches"), ("delete", f"{P}/open-song/branches/jam"),
    ("post", f"{P}/open-song/tags"), ("delete", f"{P}/open-song/tags/v0"), ("post", f"{P}/open-song/merge/preview"),
    ("post", f"{P}/open-song/merge"),
]


@pytest.mark.parametrize("method, path", ANONYMOUS_WRITES)
def test_anonymous_writes_get_401_before_their_body_is_validated(client, public_song, method, path):
    kw = {"json": {}} if method == "post" and "import" not in path else {}
    if "import" in path:
        kw = {"data": {}, "content_type": "multipart/form-data"}
    r = getattr(client, method)(path, **kw)
    assert r.status_code == 401, (r.status_code, r.json)
    assert r.json["code"] == "auth_required"


@pytest.mark.parametrize("path", [f"{P}/import", f"{P}/open-song/import"])
def test_import_checks_the_right_before_reading_the_file(client, auth, public_song, path):
    """Hole 4: the import read and parsed the file before checking the caller's right."""
    for headers, status in (({}, 401), (auth("listener"), 403)):
        body = CountingStream(2 * 1024 * 1024)
        r = client.post(path, input_stream=body, headers={**headers,
                        "Content-Type": "multipart/form-data; boundary=xyz"})
        assert r.status_code == status, r.json
        assert body.read_bytes == 0


@pytest.mark.parametrize("path", [f"{P}/import", f"{P}/open-song/import"])
def test_an_import_over_its_own_limit_is_refused_unread_with_the_limit_stated(client, auth, app, public_song, path):
    limit = app.config["SCRIPTHAMMER"].composition_import_max_bytes
    assert limit == 8 * 1024 * 1024 < app.config["SCRIPTHAMMER"].max_upload_bytes
    body = CountingStream(64 * 1024 * 1024)
    r = client.post(path, input_stream=body, headers={**auth("ivory"),
                    "Content-Type": "multipart/form-data; boundary=xyz"})
    assert r.status_code == 413
    err = r.json
    assert err["code"] == "import_too_large" and err["details"]["limit_bytes"] == limit
    assert "8 MiB" in err["message"]
    assert body.read_bytes == 0


def test_an_oversized_multipart_file_without_a_length_is_cut_at_the_limit(client, auth, app_with):
    application = app_with(composition_import_max_mb=1)
    c = application.test_client()
    h = {"Authorization": "Bearer " + application.test_tokens["ivory"]}
    big = _midi() + b"\0" * (2 * 1024 * 1024)
    r = c.post(f"{P}/import", headers={**h, "Transfer-Encoding": "chunked"},
               data={"file": (io.BytesIO(big), "big.mid"), "id": "big"}, content_type="multipart/form-data",
               environ_overrides={"wsgi.input_terminated": True})
    assert r.status_code == 413, r.json
    assert r.json["details"]["limit_bytes"] == 1024 * 1024
    assert c.get(f"{P}/big", headers=h).status_code == 404
