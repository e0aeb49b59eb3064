"""Opening SHF bundles without trusting them.

:func:`open_bundle` checks the archive before reading any member: every name is a plain
relative path (no ``..``, no absolute or drive paths, no backslashes or control characters, no
duplicates), no member is a link or a device, sizes and compression ratios are under the
spec's limits, the manifest names a known format version and lists exactly the members
present. Reading a member streams it with a cap (the header's size is not trusted) and checks
its sha256. :func:`extract` writes only regular files inside the target folder, creating each
with ``O_EXCL | O_NOFOLLOW`` under a resolved, checked path; on any error it removes what it
wrote. Opening is never running: nothing here imports or executes a bundle's code.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import stat
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from . import spec
from .keys import key_id, load_public, verify as verify_sig
from .spec import (MANIFEST, SIGNATURE, IntegrityError, NotSHF, UnknownVersion, UnsafeBundle,
                   role_of)

_BAD_CHARS = re.compile(r"[\x00-\x1f\x7f\\:]")


def check_name(name: str) -> str:
    """A member name that is safe to join under a target folder, or UnsafeBundle."""
    if not name or len(name) > spec.MAX_PATH or _BAD_CHARS.search(name):
        raise UnsafeBundle(f"refused member name {name!r}: empty, too long or odd characters", member=name)
    p = PurePosixPath(name)
    if p.is_absolute() or name.startswith("/") or any(part in ("", ".", "..") for part in name.split("/")):
        raise UnsafeBundle(f"refused member {name!r}: path traversal", member=name)
    return name


@dataclass
class Signature:
    present: bool
    valid: bool
    key_id: str | None = None
    public_key: str | None = None
    trusted: bool = False
    reason: str = ""

    def to_dict(self) -> dict:
        return {"present": self.present, "valid": self.valid, "key_id": self.key_id, "trusted": self.trusted,
                "reason": self.reason}


class Bundle:
    """An opened, structurally validated bundle (members are read lazily and hash-checked)."""

    def __init__(self, path: Path, zf: zipfile.ZipFile, manifest: dict, manifest_bytes: bytes,
                 signature_bytes: bytes | None, infos: dict[str, zipfile.ZipInfo]):
        self.path, self.zf, self.manifest = path, zf, manifest
        self.manifest_bytes, self.signature_bytes, self.infos = manifest_bytes, signature_bytes, infos

    def close(self) -> None:
        self.zf.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def files(self) -> dict[str, dict]:
        return self.manifest["files"]

    def read(self, name: str) -> bytes:
        """A member's bytes, checked against the manifest (size cap while streaming, then sha256)."""
        entry = self.files.get(name)
        if entry is None:
            raise IntegrityError(f"{name} is not listed in the manifest", member=name)
        return _read_capped(self.zf, self.infos[name], entry["size"], entry["sha256"])

    def signature(self, trusted: dict | None = None) -> Signature:
        return check_signature(self.manifest_bytes, self.signature_bytes, trusted or {})

    def verify_all(self) -> list[str]:
        """Read every member and check its hash; returns the member names (IntegrityError on a mismatch)."""
        for name in self.files:
            self.read(name)
        return list(self.files)

    def credits(self) -> dict | None:
        """The release's credits the bundle carries (``credits/credits.json``, hash-checked against the
        manifest: a tampered file raises IntegrityError), or None for a bundle without credits."""
        if spec.CREDITS_JSON not in self.files:
            return None
        try:
            doc = json.loads(self.read(spec.CREDITS_JSON))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise IntegrityError(f"{spec.CREDITS_JSON} is not JSON: {exc}", member=spec.CREDITS_JSON) from None
        if not isinstance(doc, dict) or not isinstance(doc.get("shares"), list):
            raise IntegrityError(f"{spec.CREDITS_JSON} has no shares", member=spec.CREDITS_JSON)
        return doc

    def credits_summary(self) -> dict | None:
        """Who wrote the piece, in short: the version, each member's share, the performers (None: no credits)."""
        c = self.credits()
        if c is None:
            return None
        return {"composition": c.get("composition"), "version": (c.get("version") or {}).get("id"),
                "iswc": c.get("iswc"), "notes": c.get("notes"),
                "shares": [{"member": s.get("member"), "name": s.get("name"), "percent": s.get("percent"),
                            "share_exact": s.get("share_exact")} for s in c["shares"]],
                "performers": c.get("performers") or [],
                "split_sheet": spec.CREDITS_CSV if spec.CREDITS_CSV in self.files else None}

    def summary(self, trusted: dict | None = None) -> dict:
        m = self.manifest
        roles: dict[str, int] = {}
        for e in self.files.values():
            roles[e["role"]] = roles.get(e["role"], 0) + 1
        return {"format": m["format"], "version": m["version"], "title": m.get("title"), "created": m.get("created"),
                "composition": m.get("composition"), "generation": m.get("generation"),
                "render": {k: v for k, v in (m.get("render") or {}).items() if k != "manifest"},
                "tolerance": m.get("tolerance"), "members": len(self.files), "roles": roles,
                "bytes": sum(e["size"] for e in self.files.values()),
                "credits": m.get("credits"),
                "signature": self.signature(trusted).to_dict()}


def _read_capped(zf: zipfile.ZipFile, info: zipfile.ZipInfo, size: int, sha: str | None) -> bytes:
    h = hashlib.sha256()
    chunks, total = [], 0
    try:
        with zf.open(info) as fh:
            while True:
                block = fh.read(1 << 20)
                if not block:
                    break
                total += len(block)
                if total > size:
                    raise UnsafeBundle(f"{info.filename} holds more bytes than it declares", member=info.filename)
                h.update(block)
                chunks.append(block)
    except (zlib_error(), *ZIP_READ_ERRORS) as exc:
        raise IntegrityError(f"{info.filename} cannot be read: {exc}", member=info.filename) from None
    if total != size or (sha is not None and h.hexdigest() != sha):
        raise IntegrityError(f"{info.filename} does not match its hash in the manifest", member=info.filename)
    return b"".join(chunks)


def zlib_error():
    import zlib
    return zlib.error


def check_signature(manifest_bytes: bytes, sig_bytes: bytes | None, trusted: dict) -> Signature:
    if sig_bytes is None:
        return Signature(False, False, reason="the bundle is not signed")
    try:
        sig = json.loads(sig_bytes)
        if sig.get("algorithm") != "ed25519":
            return Signature(True, False, reason=f"unknown signature algorithm {sig.get('algorithm')!r}")
        pub = load_public(sig["public_key"].encode())
        raw = base64.b64decode(sig["signature"], validate=True)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return Signature(True, False, reason=f"malformed signature: {exc}")
    kid = key_id(pub)
    if sig.get("key_id") not in (None, kid):
        return Signature(True, False, kid, sig["public_key"], reason="key id does not match the public key")
    if not verify_sig(pub, raw, manifest_bytes):
        return Signature(True, False, kid, sig["public_key"], reason="the signature does not match the manifest")
    trusted_pub = trusted.get(kid)
    is_trusted = trusted_pub is not None and key_id(trusted_pub) == kid
    return Signature(True, True, kid, sig["public_key"], is_trusted,
                     "signed by a trusted key" if is_trusted else "signed by a key you do not trust")


#: What zipfile raises on a damaged archive besides BadZipFile (a name that is not UTF-8, a truncated
#: record, a compression it does not know...).
ZIP_READ_ERRORS = (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error, NotImplementedError,
                   OverflowError, IndexError)


def open_bundle(path: str | Path) -> Bundle:
    """Open and structurally validate a bundle (raises an SHFError subclass with a clear message)."""
    path = Path(path)
    try:
        zf = zipfile.ZipFile(path)
    except ZIP_READ_ERRORS as exc:  # a damaged central directory raises any of these
        raise NotSHF(f"{path.name} is not an SHF file (not a zip archive: {exc})") from None
    try:
        infos = zf.infolist()
        if len(infos) > spec.MAX_MEMBERS + 2:
            raise UnsafeBundle(f"too many members ({len(infos)} > {spec.MAX_MEMBERS})")
        by: dict[str, zipfile.ZipInfo] = {}
        total = 0
        for info in infos:
            if not info.filename:
                raise UnsafeBundle("a member has an empty name")
            name = check_name(info.filename.rstrip("/") if info.is_dir() else info.filename)
            mode = info.external_attr >> 16
            if info.is_dir():
                continue
            if mode and not stat.S_ISREG(mode):
                kind = "a symbolic link" if stat.S_ISLNK(mode) else "not a regular file"
                raise UnsafeBundle(f"refused member {name!r}: {kind}", member=name)
            if name in by:
                raise UnsafeBundle(f"member {name!r} appears twice", member=name)
            if info.flag_bits & 0x1:
                raise UnsafeBundle(f"member {name!r} is encrypted", member=name)
            if info.file_size > spec.RATIO_FLOOR and info.file_size > spec.MAX_RATIO * max(1, info.compress_size):
                raise UnsafeBundle(f"member {name!r} expands {info.file_size // max(1, info.compress_size)}x: "
                                   "refused as a zip bomb", member=name)
            total += info.file_size
            by[name] = info
        if total > spec.MAX_TOTAL_BYTES:
            raise UnsafeBundle(f"the bundle expands to {total} bytes, over the limit of {spec.MAX_TOTAL_BYTES}")
        if MANIFEST not in by:
            raise NotSHF(f"{path.name} has no {MANIFEST}: not an SHF file")
        if by[MANIFEST].file_size > spec.MAX_MANIFEST_BYTES:
            raise UnsafeBundle(f"{MANIFEST} is over {spec.MAX_MANIFEST_BYTES} bytes")
        raw = _read_capped(zf, by[MANIFEST], by[MANIFEST].file_size, None)
        try:
            manifest = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise NotSHF(f"{MANIFEST} is not JSON: {exc}") from None
        if not isinstance(manifest, dict) or manifest.get("format") != spec.FORMAT_NAME:
            raise NotSHF(f"{MANIFEST} does not declare format {spec.FORMAT_NAME!r}")
        if manifest.get("version") not in spec.SUPPORTED_VERSIONS:
            raise UnknownVersion(f"SHF version {manifest.get('version')!r} is not supported "
                                 f"(this reader knows {', '.join(map(str, spec.SUPPORTED_VERSIONS))})",
                                 version=manifest.get("version"))
        files = manifest.get("files")
        if not isinstance(files, dict):
            raise NotSHF(f"{MANIFEST} has no files table")
        sig = None
        if SIGNATURE in by:
            if by[SIGNATURE].file_size > 4096:
                raise UnsafeBundle(f"{SIGNATURE} is too large")
            sig = _read_capped(zf, by[SIGNATURE], by[SIGNATURE].file_size, None)
        listed, present = set(files), set(by) - {MANIFEST, SIGNATURE}
        if present - listed:
            raise UnsafeBundle(f"members not in the manifest: {', '.join(sorted(present - listed)[:5])}")
        if listed - present:
            raise IntegrityError(f"members missing from the archive: {', '.join(sorted(listed - present)[:5])}")
        for name, entry in files.items():
            check_name(name)
            if not isinstance(entry, dict):
                raise NotSHF(f"{MANIFEST} entry {name!r} is not an object")
            role = role_of(name)
            if role is None or entry.get("role") != role:
                raise UnsafeBundle(f"member {name!r} is not where its role lives", member=name)
            size = entry.get("size")
            if not isinstance(size, int) or size < 0 or size > spec.MAX_MEMBER_BYTES[role]:
                raise UnsafeBundle(f"member {name!r} is over the {role} size limit", member=name)
            if by[name].file_size != size:
                raise IntegrityError(f"member {name!r} has another size than the manifest says", member=name)
            if not isinstance(entry.get("sha256"), str) or not re.fullmatch(r"[0-9a-f]{64}", entry["sha256"]):
                raise NotSHF(f"member {name!r} has no sha256 in the manifest")
        return Bundle(path, zf, manifest, raw, sig, by)
    except ZIP_READ_ERRORS as exc:  # a damaged member record (an empty name, a bad header...)
        zf.close()
        raise NotSHF(f"{path.name} is not a readable SHF file: {type(exc).__name__}: {exc}") from None
    except BaseException:
        zf.close()
        raise


def extract(bundle: Bundle, target: str | Path, members: list[str] | None = None) -> list[Path]:
    """Extract (all or some) members under ``target`` after checking each one's hash.

    Refuses to write through links: every created file and folder is checked to resolve
    inside ``target``; files are created with O_EXCL|O_NOFOLLOW (an existing file is an error).
    On failure everything this call wrote is removed again."""
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    root = target.resolve()
    names = [MANIFEST] + ([SIGNATURE] if bundle.signature_bytes is not None else []) + sorted(members or bundle.files)
    written: list[Path] = []
    made_dirs: list[Path] = []
    try:
        for name in names:
            check_name(name)
            if name == MANIFEST:
                data = bundle.manifest_bytes
            elif name == SIGNATURE:
                data = bundle.signature_bytes
            else:
                data = bundle.read(name)
            dest = root.joinpath(*name.split("/"))
            parent = dest.parent
            missing = []
            p = parent
            while not p.exists():
                missing.append(p)
                p = p.parent
            for d in reversed(missing):
                d.mkdir()
                made_dirs.append(d)
            real_parent = parent.resolve(strict=True)
            if real_parent != root and root not in real_parent.parents:
                raise UnsafeBundle(f"refused to write {name!r}: its folder leads outside {target}", member=name)
            fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
            written.append(dest)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        return written
    except FileExistsError as exc:
        _undo(written, made_dirs)
        raise UnsafeBundle(f"refused to overwrite {exc.filename}") from None
    except BaseException:
        _undo(written, made_dirs)
        raise


def _undo(written: list[Path], dirs: list[Path]) -> None:
    for f in written:
        try:
            f.unlink()
        except OSError:
            pass
    for d in reversed(dirs):
        try:
            d.rmdir()
        except OSError:
            pass
