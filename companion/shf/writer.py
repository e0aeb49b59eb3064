"""Writing SHF bundles: collect the members, hash them, write the manifest, sign it, zip it.

The archive is deterministic for the same members (sorted names, a fixed timestamp, audio
stored and text deflated), and is written to a temporary name and renamed when complete.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import subprocess
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .keys import key_id, public_hex
from .spec import FORMAT_NAME, FORMAT_VERSION, MANIFEST, SIGNATURE, TOLERANCE, role_of

ZIP_TIME = (2020, 1, 1, 0, 0, 0)


@dataclass
class BundleInput:
    """Everything a bundle holds. ``files`` maps archive paths to bytes or a local Path."""

    title: str
    files: dict[str, bytes | Path] = field(default_factory=dict)
    composition: dict[str, Any] = field(default_factory=dict)  # id, version, digest
    generation: dict[str, Any] | None = None                   # seed, params, members, measures
    render: dict[str, Any] = field(default_factory=dict)       # settings, engines, key, loudness...
    extra: dict[str, Any] = field(default_factory=dict)

    def add(self, path: str, data: bytes | Path) -> None:
        if role_of(path) is None:
            raise ValueError(f"{path}: not a place an SHF member may live")
        self.files[path] = data


def _read(v: bytes | Path) -> bytes:
    return v if isinstance(v, bytes) else Path(v).read_bytes()


def _digest(v: bytes | Path) -> tuple[str, int]:
    if isinstance(v, bytes):
        return hashlib.sha256(v).hexdigest(), len(v)
    h = hashlib.sha256()
    size = 0
    with open(v, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
            size += len(block)
    return h.hexdigest(), size


def manifest_for(inp: BundleInput, created: str | None = None) -> dict[str, Any]:
    files = {}
    for path in sorted(inp.files):
        sha, size = _digest(inp.files[path])
        files[path] = {"sha256": sha, "size": size, "role": role_of(path)}
    m = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "title": inp.title,
         "created": created or dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
         "composition": inp.composition, "generation": inp.generation, "render": inp.render,
         "tolerance": TOLERANCE, "files": files}
    m.update(inp.extra)
    return m


def sign(manifest_bytes: bytes, private) -> bytes:
    pub = private.public_key()
    sig = private.sign(manifest_bytes)
    return (json.dumps({"algorithm": "ed25519", "key_id": key_id(pub), "public_key": public_hex(pub),
                        "signature": base64.b64encode(sig).decode()}, indent=2) + "\n").encode()


def write_bundle(out: str | Path, inp: BundleInput, private=None, created: str | None = None) -> Path:
    """Write the bundle to ``out``; signed when ``private`` (an Ed25519 key) is given."""
    out = Path(out)
    manifest = json.dumps(manifest_for(inp, created), indent=2, sort_keys=True).encode() + b"\n"
    tmp = out.with_name(out.name + ".part")
    try:
        with zipfile.ZipFile(tmp, "w") as zf:
            def put(name: str, data: bytes, compress: bool) -> None:
                info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
                info.external_attr = (0o100644 << 16)
                zf.writestr(info, data)

            put(MANIFEST, manifest, True)
            if private is not None:
                put(SIGNATURE, sign(manifest, private), True)
            for path in sorted(inp.files):
                # audio and samples are stored as they are (they barely deflate); text is deflated
                put(path, _read(inp.files[path]), not path.endswith((".flac", ".mid")) and
                    not path.startswith("samples/"))
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return out


def flac(wav: Path, out: Path) -> Path:
    """A lossless FLAC of ``wav`` at its own bit depth (decodes back to the same samples)."""
    proc = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(wav), "-map_metadata", "-1",
                           "-fflags", "+bitexact", "-flags:a", "+bitexact", "-c:a", "flac", "-compression_level",
                           "5", str(out)], capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg could not make a FLAC: {proc.stderr.decode(errors='replace')[-300:]}")
    return out


def decode_flac(path: Path, out_wav: Path) -> Path:
    proc = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(path), "-c:a", "pcm_s24le",
                           str(out_wav)], capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg could not decode {path.name}: {proc.stderr.decode(errors='replace')[-300:]}")
    return out_wav
