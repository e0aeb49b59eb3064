"""The sample library's plain functions: add (whole files or slices), replace, retire, list, history.

Rights (one place: :func:`require_manager`): a sample of an instrument may be added, replaced or
retired by the member its instrument definition names (``member``) and by the band's leader;
anyone else gets 403. Callers check who is asking (401) before they read a request's body, and
call :func:`require_manager` before they read the file.

Every write validates everything first (metadata, then the file with the real decoders), then puts
the bytes in the object store under their content hash, then writes the catalog rows and one
history commit in one transaction. If that transaction fails, the objects this call stored (and
nothing else references) are deleted again: nothing half-written stays.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from companion.db import utcnow
from companion.errors import Conflict, Forbidden, InvalidInput, NotFound
from companion.storage.base import sha256_file

from . import objects
from .formats import Limits, SampleInfo, inspect_file
from .models import Sample, SampleChange, SampleCommit, SampleVersion

NORMAL = "normal"
ROOT = "0" * 64  # the parent of the library's first commit
COMMIT_ATTEMPTS = 10  # a writer that lost the race for a parent tries again on the new head
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,119}$")
Progress = Callable[[int, str], None]


@dataclasses.dataclass(frozen=True)
class Actor:
    """Who is changing the library: a member id (or a name for set-up) and their role."""

    id: str
    role: str

    @classmethod
    def of(cls, identity) -> "Actor":
        return cls(identity.member_id or identity.name, identity.role)


@dataclasses.dataclass
class SampleMeta:
    """What the caller says about a sample (checked by :meth:`checked`)."""

    articulation: str = NORMAL
    name: str = ""
    licence: str = ""
    source: str = ""
    root: int | str | None = None
    low: int | str | None = None
    high: int | str | None = None
    velocity_low: int = 0
    velocity_high: int = 127

    def checked(self, instrument, filename: str = "") -> "SampleMeta":
        """A copy with defaults filled in; InvalidInput naming the first wrong field."""
        m = dataclasses.replace(self)
        m.licence, m.source = (m.licence or "").strip(), (m.source or "").strip()
        if not m.licence:
            raise InvalidInput("Every sample needs its licence (e.g. CC0-1.0, CC-BY-4.0, 'own recording'): "
                               "nothing was stored.", code="licence_required", details={"field": "licence"})
        if not m.source:
            raise InvalidInput("Every sample needs its source (who recorded it, or where it came from): "
                               "nothing was stored.", code="source_required", details={"field": "source"})
        if len(m.licence) > 200 or len(m.source) > 500:
            raise InvalidInput("licence is at most 200 characters and source at most 500.", code="too_long_field")
        m.articulation = (m.articulation or NORMAL).strip()
        allowed = (NORMAL, *instrument.articulations)
        if m.articulation not in allowed:
            raise InvalidInput(f"{instrument.id} has no articulation {m.articulation!r}: use one of "
                               f"{', '.join(allowed)}.", code="unknown_articulation",
                               details={"articulation": m.articulation, "allowed": list(allowed)})
        m.name = (m.name or default_name(filename)).strip().lower()
        if not NAME_RE.match(m.name):
            raise InvalidInput(f"Sample name {m.name!r}: use lowercase letters, digits, '.', '-' or '_' (at most 120).",
                               code="bad_name", details={"name": m.name})
        m.root = key_of(m.root, "root", 60)
        m.low = key_of(m.low, "low", m.root)
        m.high = key_of(m.high, "high", m.root)
        if not m.low <= m.root <= m.high:
            raise InvalidInput("Keys must satisfy low <= root <= high.", code="bad_key_range",
                               details={"low": m.low, "root": m.root, "high": m.high})
        if not 0 <= m.velocity_low <= m.velocity_high <= 127:
            raise InvalidInput("Velocities must satisfy 0 <= velocity_low <= velocity_high <= 127.",
                               code="bad_velocity_range")
        return m


@dataclasses.dataclass
class Slicing:
    """How to cut a recording: at ``points`` (seconds), or at onsets; ``roots`` one key per slice."""

    points: list[float] | None = None
    threshold_db: float = 30.0
    min_gap_s: float = 0.08
    roots: list[int | str] | None = None


def default_name(filename: str) -> str:
    stem = Path(filename or "sample").stem.lower()
    return re.sub(r"[^a-z0-9._-]+", "-", stem).strip("-._")[:120] or "sample"


def key_of(value, field: str, default: int) -> int:
    """A MIDI key from an int or a pitch name (``C4`` = 60)."""
    from companion.compositions.model import FormatError, pitch_to_midi

    if value is None or value == "":
        return default
    if isinstance(value, str) and not (value.isascii() and value.lstrip("-").isdigit()):
        try:
            value = pitch_to_midi(value)
        except FormatError:
            raise InvalidInput(f"{field}: {value!r} is not a MIDI key or a pitch like C4.", code="bad_key",
                               details={"field": field}) from None
    try:
        value = int(value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(f"{field}: {value!r} is not a MIDI key.", code="bad_key", details={"field": field}) from None
    if not 0 <= value <= 127:
        raise InvalidInput(f"{field} must be a MIDI key 0..127.", code="bad_key", details={"field": field})
    return value


# --------------------------------------------------------------------------- rights

def instruments() -> dict:
    from companion.algorithms.instruments import load_instruments

    return load_instruments()


def get_instrument(instrument_id: str, known: dict | None = None):
    known = instruments() if known is None else known
    inst = known.get(instrument_id)
    if inst is None:
        raise NotFound(f"There is no instrument {instrument_id!r}: samples belong to an instrument of the band "
                       f"({', '.join(sorted(known))}).", code="instrument_not_found",
                       details={"instrument": instrument_id})
    return inst


def may_manage(actor: Actor, instrument) -> bool:
    """The instrument's own member and the leader manage its samples."""
    return actor.role == "leader" or actor.id == instrument.member


def require_manager(actor: Actor, instrument_id: str, known: dict | None = None):
    """The instrument, if ``actor`` may change its samples; NotFound / Forbidden otherwise."""
    inst = get_instrument(instrument_id, known)
    if not may_manage(actor, inst):
        raise Forbidden(f"Only {inst.member} (whose instrument it is) and the band's leader may change the samples "
                        f"of {inst.id}.", code="not_instrument_owner",
                        details={"instrument": inst.id, "owner": inst.member})
    return inst


def require_sample_manager(db, actor: Actor, sample_id: int, known: dict | None = None):
    """(sample's instrument) when ``actor`` may change sample ``sample_id``; 404 / 403 otherwise."""
    with db.session() as s:
        row = s.get(Sample, sample_id)
        if row is None:
            raise NotFound(f"There is no sample {sample_id}.", code="sample_not_found", details={"id": sample_id})
        instrument_id = row.instrument
    return require_manager(actor, instrument_id, known)


# --------------------------------------------------------------------------- writes

@dataclasses.dataclass
class Prepared:
    """A checked file about to become a sample version."""

    path: Path
    info: SampleInfo
    sha256: str
    meta: SampleMeta
    details: dict


def add(svc, actor: Actor, instrument_id: str, path: Path, filename: str, meta: SampleMeta, message: str = "",
        slicing: Slicing | None = None, progress: Progress | None = None, link: bool = False) -> dict:
    """Add the file (or its slices) as new samples of ``instrument_id``; returns the commit as the API shows it.

    ``link``: hard-link the file into a local store instead of copying it (set-up, trusted files)."""
    report = progress or (lambda pct, stage: None)
    inst = require_manager(actor, instrument_id)
    meta = meta.checked(inst, filename)
    limits = Limits.from_config(svc.config)
    report(5, "checking")
    info = inspect_file(path, filename, limits)
    work = Path(tempfile.mkdtemp(prefix="samples-", dir=_work_dir(svc)))
    try:
        if slicing is None:
            items = [Prepared(path, info, sha256_file(path), meta, {"original_filename": filename[:200]})]
        else:
            items = _slices(svc, inst, path, filename, info, meta, slicing, work, report)
        names = [it.meta.name for it in items]
        with svc.db.session() as s:
            taken = s.scalars(sa.select(Sample.name).where(Sample.instrument == inst.id,
                                                            Sample.articulation == meta.articulation,
                                                            Sample.name.in_(names))).all()
        if taken:
            raise Conflict(f"{inst.id}/{meta.articulation} already has samples named {', '.join(sorted(taken))}: "
                           "replace them (a new version) or pick other names.", code="sample_exists",
                           details={"names": sorted(taken)})
        message = message.strip() or (f"add {len(items)} slices of {filename}" if slicing else f"add {meta.name}")

        def write(s: Session) -> list[tuple[Sample, SampleVersion, str]]:
            out = []
            for it in items:
                row = Sample(instrument=inst.id, articulation=it.meta.articulation, name=it.meta.name,
                             kind=it.info.kind, state="active", version=1, created_by=actor.id)
                s.add(row)
                s.flush()
                ver = _version_row(row, 1, it, actor)
                s.add(ver)
                out.append((row, ver, "add"))
            return out

        return store_and_commit(svc, actor, message, items, write, report, link)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def replace(svc, actor: Actor, sample_id: int, path: Path, filename: str, meta: SampleMeta, message: str = "",
            progress: Progress | None = None) -> dict:
    """A new version of sample ``sample_id`` (a retired sample comes back active with it)."""
    report = progress or (lambda pct, stage: None)
    inst = require_sample_manager(svc.db, actor, sample_id)
    with svc.db.session() as s:
        row = s.get(Sample, sample_id)
        cur = row.current
        meta = dataclasses.replace(meta, articulation=row.articulation, name=row.name,
                                   root=cur.root if meta.root in (None, "") else meta.root,
                                   low=cur.low if meta.low in (None, "") else meta.low,
                                   high=cur.high if meta.high in (None, "") else meta.high)
        kind = row.kind
    meta = meta.checked(inst, filename)
    report(5, "checking")
    info = inspect_file(path, filename, Limits.from_config(svc.config))
    if info.kind != kind:
        raise InvalidInput(f"Sample {sample_id} is a {kind}; a {info.kind} cannot replace it.", code="kind_mismatch",
                           details={"kind": kind, "given": info.kind})
    item = Prepared(path, info, sha256_file(path), meta, {"original_filename": filename[:200]})

    def write(s: Session):
        row = s.get(Sample, sample_id, with_for_update=True)
        if row.current.sha256 == item.sha256 and row.state == "active":
            raise Conflict("That is the sample's current content already.", code="unchanged",
                           details={"sha256": item.sha256, "version": row.version})
        row.version += 1
        row.state = "active"
        ver = _version_row(row, row.version, item, actor)
        s.add(ver)
        return [(row, ver, "replace")]

    return store_and_commit(svc, actor, message.strip() or f"replace {meta.name}", [item], write, report)


def retire(svc, actor: Actor, sample_id: int, message: str = "") -> dict:
    """Retire sample ``sample_id``: it leaves the list of what instruments may use; its versions stay
    (renders and bundles that name them by hash still find them)."""
    require_sample_manager(svc.db, actor, sample_id)

    def write(s: Session):
        row = s.get(Sample, sample_id, with_for_update=True)
        if row.state == "retired":
            raise Conflict(f"Sample {sample_id} is retired already.", code="already_retired")
        row.state = "retired"
        return [(row, row.current, "retire")]

    return store_and_commit(svc, actor, message.strip() or f"retire sample {sample_id}", [], write, None)


def _work_dir(svc) -> Path:
    d = svc.config.work_dir / "samples"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _slices(svc, inst, path: Path, filename: str, info: SampleInfo, meta: SampleMeta, slicing: Slicing,
            work: Path, report: Progress) -> list[Prepared]:
    from .slicing import slice_file

    report(15, "slicing")
    slices = slice_file(path, info.format, work, points=slicing.points, threshold_db=slicing.threshold_db,
                        min_gap_s=slicing.min_gap_s, max_slices=int(svc.config.sample_max_slices),
                        progress=lambda i, n: report(15 + int(35 * i / n), f"slice {i}/{n}"))
    roots = slicing.roots
    if roots and len(roots) != len(slices):
        raise InvalidInput(f"{len(roots)} roots were given for {len(slices)} slices.", code="roots_mismatch",
                           details={"slices": len(slices), "roots": len(roots),
                                    "starts": [round(sl.start / info.sample_rate, 4) for sl in slices]})
    out = []
    width = max(2, len(str(len(slices))))
    recording = sha256_file(path)
    for i, sl in enumerate(slices):
        key = roots[i] if roots else meta.root
        m = dataclasses.replace(meta, name=f"{meta.name}-{sl.index:0{width}d}", root=key,
                                low=key if roots else meta.low, high=key if roots else meta.high).checked(inst)
        sinfo = dataclasses.replace(info, frames=sl.frames, size=sl.path.stat().st_size, details={})  # our own file
        out.append(Prepared(sl.path, sinfo, sha256_file(sl.path), m,
                             {"sliced_from": {"filename": filename[:200], "sha256": recording,
                                              "start_frame": sl.start, "end_frame": sl.end}}))
    return out


def _version_row(row: Sample, number: int, it: Prepared, actor: Actor) -> SampleVersion:
    info, m = it.info, it.meta
    details = dict(it.details)
    details.update({k: v for k, v in info.details.items() if k != "codec"})
    return SampleVersion(sample_id=row.id, version=number, sha256=it.sha256,
                         key=objects.sample_key(it.sha256, info.format), size=info.size, format=info.format,
                         sample_rate=info.sample_rate, channels=info.channels, frames=info.frames,
                         bit_depth=info.bit_depth, subtype=info.subtype, root=m.root, low=m.low, high=m.high,
                         velocity_low=m.velocity_low, velocity_high=m.velocity_high, licence=m.licence,
                         source=m.source, details=details, created_by=actor.id)


def store_and_commit(svc, actor: Actor, message: str, items: list[Prepared], write, report, link: bool = False
                     ) -> dict:
    """Store the items' bytes, then run ``write(session)`` (the catalog rows: [(sample, version, action)])
    and record them as one commit; delete what this call stored if the catalog write fails."""
    report = report or (lambda pct, stage: None)
    stored: list[tuple[str, str]] = []
    try:
        for i, it in enumerate(items):
            key, new = objects.put(svc.store, it.path, it.sha256, it.info.format, link=link)
            if new:
                stored.append((key, it.sha256))
            report(50 + int(40 * (i + 1) / max(1, len(items))), f"storing {i + 1}/{len(items)}")
        for attempt in range(COMMIT_ATTEMPTS):
            try:
                with svc.db.session() as s:
                    changes = write(s)
                    s.flush()
                    commit = _commit(s, actor, message, changes)
                    out = commit_out(commit, changes)
                report(100, "done")
                return out
            except IntegrityError:  # another commit took our parent (or our name) first
                if attempt == COMMIT_ATTEMPTS - 1:
                    raise Conflict("Others changed the library at the same moment, again and again; try again.",
                                   code="concurrent_change") from None
                time.sleep(random.uniform(0.005, 0.05) * (attempt + 1))
    except BaseException:
        _drop_unreferenced(svc, stored)
        raise
    raise AssertionError("unreachable")


def _drop_unreferenced(svc, stored: list[tuple[str, str]]) -> None:
    for key, sha in stored:
        try:
            with svc.db.session() as s:
                used = s.scalars(sa.select(SampleVersion.id).where(SampleVersion.sha256 == sha).limit(1)).first()
            if used is None:
                svc.store.delete(key)
        except Exception:  # noqa: BLE001 - best effort; the original error is what the caller sees
            pass


def commit_digest(parent: str | None, author: str, message: str, at, changes: Iterable[tuple]) -> str:
    body = {"parent": parent, "author": author, "message": message, "at": at.isoformat(timespec="seconds"),
            "changes": [list(c) for c in changes]}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _commit(s: Session, actor: Actor, message: str, changes: list[tuple[Sample, SampleVersion, str]]) -> SampleCommit:
    # the first commit's parent is ROOT, not NULL: the unique parent then admits one first commit too
    parent = s.scalars(sa.select(SampleCommit.digest).order_by(SampleCommit.id.desc()).limit(1)).first() or ROOT
    at = utcnow().replace(microsecond=0)
    rows = [(row.id, ver.version, action, ver.sha256) for row, ver, action in changes]
    commit = SampleCommit(digest=commit_digest(parent, actor.id, message, at, rows), parent=parent,
                          author=actor.id, message=message[:4000], created_at=at)
    s.add(commit)
    s.flush()
    for sample_id, version, action, sha in rows:
        s.add(SampleChange(commit_id=commit.id, sample_id=sample_id, version=version, action=action, sha256=sha))
    s.flush()
    return commit


# --------------------------------------------------------------------------- reads

def version_out(v: SampleVersion) -> dict[str, Any]:
    return {"version": v.version, "sha256": v.sha256, "key": v.key, "size": v.size, "format": v.format,
            "sample_rate": v.sample_rate, "channels": v.channels, "frames": v.frames,
            "duration": round(v.duration, 6), "bit_depth": v.bit_depth, "subtype": v.subtype, "root": v.root,
            "low": v.low, "high": v.high, "velocity_low": v.velocity_low, "velocity_high": v.velocity_high,
            "licence": v.licence, "source": v.source, "details": v.details or {}, "created_by": v.created_by,
            "created_at": v.created_at}


def sample_out(row: Sample, versions: bool = False) -> dict[str, Any]:
    out = {"id": row.id, "instrument": row.instrument, "articulation": row.articulation, "name": row.name,
           "kind": row.kind, "state": row.state, "version": row.version, "created_by": row.created_by,
           "created_at": row.created_at, "updated_at": row.updated_at, "current": version_out(row.current),
           "ref": f"{row.instrument}/{row.articulation}/{row.name}"}
    if versions:
        out["versions"] = [version_out(v) for v in row.versions]
    return out


def commit_out(c: SampleCommit, changes=None) -> dict[str, Any]:
    if changes is None:
        rows = [(ch.sample, ch.version, ch.action, ch.sha256) for ch in c.changes]
    else:
        rows = [(row, ver.version, action, ver.sha256) for row, ver, action in changes]
    return {"id": c.id, "digest": c.digest, "parent": None if c.parent == ROOT else c.parent, "author": c.author,
            "message": c.message,
            "created_at": c.created_at,
            "changes": [{"action": action, "sample_id": row.id, "ref": f"{row.instrument}/{row.articulation}/{row.name}",
                         "version": version, "sha256": sha} for row, version, action, sha in rows]}


def list_samples(db, instrument: str | None = None, articulation: str | None = None, licence: str | None = None,
                 kind: str | None = None, state: str = "active") -> list[dict]:
    with db.session() as s:
        q = sa.select(Sample).options(selectinload(Sample.versions)).order_by(Sample.instrument, Sample.articulation,
                                                                              Sample.name)
        if instrument:
            q = q.where(Sample.instrument == instrument)
        if articulation:
            q = q.where(Sample.articulation == articulation)
        if kind:
            q = q.where(Sample.kind == kind)
        if state != "all":
            q = q.where(Sample.state == state)
        rows = list(s.scalars(q))
        out = [sample_out(r) for r in rows]
    if licence:
        want = licence.strip().lower()
        out = [o for o in out if o["current"]["licence"].lower() == want]
    return out


def get_sample(db, sample_id: int) -> dict:
    with db.session() as s:
        row = s.get(Sample, sample_id, options=[selectinload(Sample.versions)])
        if row is None:
            raise NotFound(f"There is no sample {sample_id}.", code="sample_not_found", details={"id": sample_id})
        return sample_out(row, versions=True)


def get_version(db, sample_id: int, version: int | None = None) -> dict:
    sample = get_sample(db, sample_id)
    number = version or sample["version"]
    for v in sample["versions"]:
        if v["version"] == number:
            return {**v, "sample": {k: sample[k] for k in ("id", "instrument", "articulation", "name", "kind",
                                                          "state", "ref")}}
    raise NotFound(f"Sample {sample_id} has no version {number}.", code="version_not_found",
                   details={"id": sample_id, "version": number})


def history(db, instrument: str | None = None, sample_id: int | None = None, limit: int = 100) -> list[dict]:
    """Commits, newest first (only those touching ``instrument`` / ``sample_id`` when given)."""
    with db.session() as s:
        q = sa.select(SampleCommit).options(selectinload(SampleCommit.changes).selectinload(SampleChange.sample))
        if instrument or sample_id:
            sub = sa.select(SampleChange.commit_id).join(Sample, Sample.id == SampleChange.sample_id)
            if instrument:
                sub = sub.where(Sample.instrument == instrument)
            if sample_id:
                sub = sub.where(SampleChange.sample_id == sample_id)
            q = q.where(SampleCommit.id.in_(sub))
        q = q.order_by(SampleCommit.id.desc()).limit(limit)
        return [commit_out(c) for c in s.scalars(q)]


def verify_history(db) -> dict:
    """Recompute every commit's digest from its parent and its changes: {ok, commits, broken: [ids]}."""
    broken, parent, n = [], ROOT, 0
    with db.session() as s:
        for c in s.scalars(sa.select(SampleCommit).options(selectinload(SampleCommit.changes))
                           .order_by(SampleCommit.id)):
            n += 1
            rows = [(ch.sample_id, ch.version, ch.action, ch.sha256) for ch in c.changes]
            if c.parent != parent or commit_digest(c.parent, c.author, c.message, c.created_at, rows) != c.digest:
                broken.append(c.id)
            parent = c.digest
    return {"ok": not broken, "commits": n, "broken": broken}


def check_instruments(db, known: dict | None = None) -> list[dict]:
    """What instrument files say about library samples that the library does not confirm: a name it
    does not know, a version it has not got, a sha256 that is not that version's, a retired sample.
    [{instrument, ref, version, sha256, problem}], empty when every reference holds."""
    known = instruments() if known is None else known
    problems = []
    with db.session() as s:
        for inst in sorted(known.values(), key=lambda i: i.id):
            refs = ([inst.soundfont] if inst.soundfont else []) + list(inst.samples)
            for ref in refs:
                where = dict(instrument=inst.id, ref=ref.sample, version=ref.version, sha256=ref.sha256)
                instrument, articulation, name = ref.sample.split("/")
                row = s.scalars(sa.select(Sample).options(selectinload(Sample.versions)).where(
                    Sample.instrument == instrument, Sample.articulation == articulation,
                    Sample.name == name)).first()
                if row is None:
                    problems.append({**where, "problem": "not in the library"})
                    continue
                ver = next((v for v in row.versions if v.version == ref.version), None)
                if ver is None:
                    problems.append({**where, "problem": f"the library has versions 1..{row.version}"})
                elif ver.sha256 != ref.sha256:
                    problems.append({**where, "problem": f"version {ref.version} is {ver.sha256[:12]}, not this hash"})
                elif row.state == "retired":
                    problems.append({**where, "problem": "retired (renders still find it by hash)"})
    return problems
