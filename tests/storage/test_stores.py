"""Both object-store backends behind one interface: the local folder and S3 (a real S3 API server)."""
from __future__ import annotations

import os

import pytest
import requests

from companion.storage import LocalStore, content_key
from companion.storage.s3 import S3Store


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return LocalStore(tmp_path / "objects")
    s = request.getfixturevalue("s3_settings")
    return S3Store(bucket=s["s3_bucket"], endpoint_url=s["s3_endpoint_url"], access_key_id="testing",
                   secret_access_key="testing")


def test_put_get_stat_list_delete(store, tmp_path):
    src = tmp_path / "song.flac"
    src.write_bytes(os.urandom(300_000))
    key = content_key("renditions", "ab" * 32, "Cosmic Cycle.flac")
    assert key == f"renditions/ab/{'ab' * 32}/Cosmic-Cycle.flac"
    assert store.stat(key) is None and not store.exists(key)
    obj = store.put_file(key, src)
    assert obj.size == 300_000
    assert store.get_bytes(key) == src.read_bytes()
    store.put_bytes("manifests/x.json", b"{}")
    assert sorted(store.list("")) == sorted([key, "manifests/x.json"])
    out = tmp_path / "copy"
    store.download(key, out)
    assert out.read_bytes() == src.read_bytes()
    store.delete(key)
    assert store.stat(key) is None
    with pytest.raises(KeyError):
        store.get_bytes(key)


@pytest.mark.parametrize("bad", ["../etc/passwd", "/abs/path", "a/../../b", "a//b", "dir/", "a b", "..", "a/..",
                                 "./secret.txt", "a/./../../secret.txt", "a\\..\\secret.txt", "a/\x00b"])
def test_hostile_keys_are_refused(store, bad):
    with pytest.raises(ValueError):
        store.put_bytes(bad, b"x")
    for read in (store.get_bytes, store.stat):
        with pytest.raises(ValueError):
            read(bad)
    if store.name == "local":  # what /media serves from: nothing outside the root, by any key
        (store.root.parent / "secret.txt").write_text("not the store's")
        with pytest.raises(ValueError):
            store.local_path(bad)


def test_local_writes_are_atomic(tmp_path, monkeypatch):
    store = LocalStore(tmp_path / "objects")

    class Boom(Exception):
        pass

    def failing_write(fh):
        fh.write(b"half of a file")
        raise Boom()

    with pytest.raises(Boom):
        store._commit("renditions/aa/half.wav", failing_write)
    assert store.stat("renditions/aa/half.wav") is None
    assert list(store.list("")) == []
    assert os.listdir(tmp_path / "objects" / ".tmp") == []


def test_s3_presigned_urls_serve_byte_ranges(s3_settings, tmp_path):
    s = s3_settings
    store = S3Store(bucket=s["s3_bucket"], endpoint_url=s["s3_endpoint_url"], access_key_id="testing",
                    secret_access_key="testing")
    data = bytes(range(256)) * 100
    store.put_bytes("renditions/cd/x.mp3", data)
    url = store.presigned_url("renditions/cd/x.mp3")
    r = requests.get(url, headers={"Range": "bytes=100-199"}, timeout=10)
    assert r.status_code == 206 and r.content == data[100:200]
    assert requests.get(url.split("?")[0], timeout=10).status_code == 403  # unsigned: refused
