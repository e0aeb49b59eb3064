"""An SHF bundle of a short rendered piece (made once), keys, and a helper to craft hostile zips."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from companion.algorithms.base import Params
from companion.algorithms.generate import compose
from companion.config import Config
from companion.render.service import RenderSettings, render_version
from companion.shf.build import build_from_store
from companion.shf.keys import key_id
from companion.storage import open_store


@pytest.fixture(scope="session")
def band_key():
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="session")
def trusted(band_key):
    pub = band_key.public_key()
    return {key_id(pub): pub}


@pytest.fixture(scope="session")
def bundle_parts(tmp_path_factory):
    """(store, files, render manifest, work dir) of a 6-measure piece rendered quickly."""
    d = tmp_path_factory.mktemp("shf-src")
    store = open_store(Config(var_dir=d))
    comp = compose(None, 3, Params(tempo=140), measures=6)
    files = comp.to_files()
    manifest = render_version(store, files, d / "work", RenderSettings())
    return store, files, manifest, d


@pytest.fixture(scope="session")
def good_bundle(bundle_parts, band_key):
    store, files, manifest, d = bundle_parts
    return build_from_store(store, files, manifest, d / "piece.shf", band_key, d / "work", include_stems=True,
                            musicxml=False)


def rewrite(src: Path, dst: Path, change=None, add=(), drop=(), manifest_change=None, key=None) -> Path:
    """Copy a bundle changing members (``change(name, data) -> data``), adding raw zip entries
    ``(ZipInfo or name, data)``, dropping names, editing the manifest, re-signing with ``key``."""
    from companion.shf.writer import sign
    with zipfile.ZipFile(src) as zin:
        entries = [(i, zin.read(i.filename)) for i in zin.infolist() if i.filename not in drop]
    out = []
    manifest = None
    for info, data in entries:
        if change:
            data = change(info.filename, data)
        if info.filename == "shf.json":
            m = json.loads(data)
            if manifest_change:
                manifest_change(m)
            data = json.dumps(m, indent=2, sort_keys=True).encode() + b"\n"
            manifest = data
        out.append((info, data))
    if key is not None:
        out = [(i, sign(manifest, key) if i.filename == "shf.sig" else d) for i, d in out]
    with zipfile.ZipFile(dst, "w") as zout:
        for info, data in out:
            zout.writestr(info, data)
        for info, data in add:
            zout.writestr(info, data)
    return dst
