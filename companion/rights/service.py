"""Rights service functions: watermarked deliveries and the detector; editions on the ownership log.

Each function checks what only the data can answer (ownership, counts, consents) before it writes
anything; a refused call changes nothing (one transaction per call, the caller's session).
"""
from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import sqlalchemy as sa
import soundfile as sf
from sqlalchemy.orm import Session

from companion.db import utcnow
from companion.errors import Conflict, Forbidden, InvalidInput, NotFound
from companion.keys import machine_key
from companion.rights import ledger
from companion.rights.models import Delivery, Edition, EditionSeries, LogEntry, LogHead, Transfer

# --- keys -----------------------------------------------------------------------------------------


def watermark_key(config) -> bytes:
    """The watermark key: Config.watermark_key, or the machine's generated one (var/keys/watermark.key)."""
    if getattr(config, "watermark_key", ""):
        return config.watermark_key.encode()
    return machine_key(config.var_dir, "watermark")


def band_key(config):
    """The band's Ed25519 key (the one SHF bundles are signed with) signs the log's tree heads."""
    from companion.shf.keys import signing_key

    return signing_key(config)


# --- audio in and out -----------------------------------------------------------------------------

#: Download formats the marked file can be encoded to: ffmpeg codec arguments and the file suffix.
FORMATS = {
    "wav": (["-c:a", "pcm_s16le"], "wav"),
    "flac": (["-c:a", "flac"], "flac"),
    "mp3": (["-c:a", "libmp3lame", "-b:a", "320k"], "mp3"),
    "ogg": (["-c:a", "libvorbis", "-q:a", "6"], "ogg"),
    "opus": (["-c:a", "libopus", "-b:a", "160k"], "opus"),
    "m4a": (["-c:a", "aac", "-b:a", "256k"], "m4a"),
}

MAX_DETECT_SECONDS = 20 * 60


def read_audio(path: str | Path, max_seconds: float = MAX_DETECT_SECONDS) -> tuple[np.ndarray, int]:
    """Any audio file ffmpeg can decode, as float samples (n, channels) and its rate. A file that is
    not audio (or holds no audio stream) raises InvalidInput ``not_audio``."""
    from companion.media.ffmpeg import MediaToolError, ffmpeg, input_args

    with tempfile.TemporaryDirectory(prefix="shm-detect-") as tmp:
        out = Path(tmp) / "decoded.wav"
        try:
            ffmpeg([*input_args(path), "-map", "0:a:0", "-t", str(max_seconds), "-c:a", "pcm_f32le", "-f", "wav",
                    str(out)], timeout=300)
            data, sr = sf.read(out, dtype="float32", always_2d=True)
        except (MediaToolError, RuntimeError, sf.LibsndfileError) as exc:
            raise InvalidInput("This is not an audio file ffmpeg can decode.", code="not_audio") from exc
    if len(data) == 0:
        raise InvalidInput("The file holds no audio.", code="not_audio")
    return data, int(sr)


def write_audio(samples: np.ndarray, sr: int, path: Path, fmt: str) -> Path:
    from companion.media.ffmpeg import ffmpeg, input_args

    codec, ext = FORMATS[fmt]
    wav = path.with_suffix(".src.wav")
    sf.write(wav, samples, sr, subtype="PCM_24")
    out = path.with_suffix("." + ext)
    ffmpeg([*input_args(wav, "wav"), *codec, str(out)])
    wav.unlink()
    return out


# --- deliveries -----------------------------------------------------------------------------------


def delivery_for(s: Session, *, listener_id: int, track_id: int, fmt: str, order_ref: str = "") -> Delivery:
    """The buyer's delivery of a track in a format (made once: the mark is per buyer and format)."""
    if fmt not in FORMATS:
        raise InvalidInput(f"Unknown format {fmt!r}.", code="bad_format", details={"formats": sorted(FORMATS)})
    row = s.scalar(sa.select(Delivery).where(Delivery.listener_id == listener_id, Delivery.track_id == track_id,
                                             Delivery.format == fmt))
    if row is None:
        row = Delivery(mark=secrets.randbits(63), listener_id=listener_id, track_id=track_id, format=fmt,
                       order_ref=order_ref)
        s.add(row)
        s.flush()
    return row


def mark_delivery(svc, delivery_id: int, progress=lambda pct, stage: None) -> str:
    """The stored key of the delivery's marked file, embedding it once (cached: the same key afterwards)."""
    from companion.catalog.models import Track
    from companion.storage.base import content_key, sha256_file

    with svc.db.session() as s:
        d = s.get(Delivery, delivery_id)
        if d is None:
            raise NotFound(f"no delivery {delivery_id}", code="delivery_not_found")
        if d.key and svc.store.exists(d.key):
            return d.key
        track = s.get(Track, d.track_id)
        if track is None or not track.source_key:
            raise NotFound("the track has no recording to deliver", code="no_source")
        source_key, mark, fmt = track.source_key, d.mark, d.format
    key = watermark_key(svc.config)
    with tempfile.TemporaryDirectory(prefix="shm-mark-") as tmp:
        src = Path(tmp) / "source"
        svc.store.download(source_key, src)
        progress(10, "decode")
        samples, sr = read_audio(src, max_seconds=4 * 3600)
        progress(30, "embed")
        from companion.rights import watermark as wm  # numpy/scipy: loaded by the jobs that mark, not the API

        marked = wm.embed(samples, sr, wm.payload_field(key, mark))
        progress(70, "encode")
        out = write_audio(marked, wm.RATE, Path(tmp) / f"track-{d.track_id}", fmt)
        stored = content_key("rights/deliveries", sha256_file(out), out.name)
        svc.store.put_file(stored, out)
    with svc.db.session() as s:
        s.get(Delivery, delivery_id).key = stored
    progress(100, "done")
    return stored


def detect(svc, path: str | Path) -> dict:
    """Search an uploaded file for a delivery mark; the delivery it names (buyer, order, time) or "no mark"."""
    from companion.access.models import Listener

    from companion.rights import watermark as wm

    samples, sr = read_audio(path)
    try:
        found = wm.detect(samples, sr, watermark_key(svc.config))
    except wm.WatermarkError as exc:
        raise InvalidInput(exc.message, code="too_short") from exc
    out = {"found": False, "confidence": round(found.confidence, 3), "sync_z": round(found.sync_z, 2),
           "seconds": round(found.seconds, 2), "delivery": None}
    if not found.found:
        return out
    with svc.db.session() as s:
        d = s.scalar(sa.select(Delivery).where(Delivery.mark == found.payload))
        if d is None:
            out["unknown_mark"] = format(found.payload, "016x")
            return out
        fan = s.get(Listener, d.listener_id)
        out["found"] = True
        out["delivery"] = {"id": d.id, "track_id": d.track_id, "format": d.format, "order_ref": d.order_ref,
                           "created_at": d.created_at.isoformat() + "Z",
                           "listener": {"id": fan.id, "wp_user_id": fan.wp_user_id, "display_name": fan.display_name}}
    return out


def trace_stream(svc, track_id: int, path: str | Path) -> dict:
    """Whose stream of a premium track a captured recording is: the A/B variant of each segment read
    from the audio, matched against every listener's (and band member's) keyed sequence. Returns the
    listener, or ``found: False`` when no candidate matches well enough (docs/watermark.md)."""
    from companion.access.models import Listener
    from companion.catalog.models import Track
    from companion.media import abstreams
    from companion.rights import streams
    from companion.rights import watermark as wm

    with svc.db.session() as s:
        track = s.get(Track, track_id)
        if track is None:
            raise NotFound(f"no track {track_id}", code="track_not_found")
        if not track.ab_hls_key:
            raise InvalidInput("This track is not streamed as marked A/B variants (only premium tracks are, once "
                               "released with the stream-mark key).", code="no_ab_streams")
        master = track.ab_hls_key
        people = {f"l.{row.id}": {"id": row.id, "wp_user_id": row.wp_user_id, "display_name": row.display_name}
                  for row in s.scalars(sa.select(Listener))}
    members = {f"m.{mid}": {"member": mid} for mid in svc.band.members}
    key = abstreams.stream_key(svc.config)
    try:
        doc = abstreams.description_of(svc.store, master)
    except KeyError:
        raise NotFound("The track's A/B variants are not in the store: release it again.", code="ab_missing") from None
    samples, sr = read_audio(path)
    starts = streams.boundaries(doc["variants"][0]["durations"])
    try:
        found = streams.trace(samples, sr, key, doc["ab"], starts, [*people, *members])
    except wm.WatermarkError as exc:
        raise InvalidInput(exc.message, code="too_short") from exc
    out = {"found": found.listener is not None, "track_id": track_id, "agreement": round(found.agreement, 3),
           "segments_read": len(found.soft), "sync_z": round(found.sync_z, 2),
           "seconds": round(len(samples) / sr, 2), "principal": found.listener, "listener": None, "member": None}
    if found.listener in people:
        out["listener"] = people[found.listener]
    elif found.listener in members:
        out["member"] = members[found.listener]["member"]
    return out


# --- the ownership log ----------------------------------------------------------------------------

_trees: dict[str, ledger.MerkleLog] = {}
_trees_lock = threading.Lock()


def tree(s: Session) -> ledger.MerkleLog:
    """The log's Merkle tree as committed rows say (kept per database, extended with new rows)."""
    url = str(s.get_bind().url)
    with _trees_lock:
        t = _trees.get(url)
        size = s.scalar(sa.select(sa.func.count()).select_from(LogEntry)) or 0
        if t is not None and len(t) and (len(t) > size or bytes(s.scalar(
                sa.select(LogEntry.leaf_hash).where(LogEntry.idx == len(t) - 1)) or b"") != t.levels[0][-1]):
            t = None  # a rolled-back append, or another writer: read the rows again
        if t is None:
            t = _trees[url] = ledger.MerkleLog()
        if len(t) < size:
            for h in s.scalars(sa.select(LogEntry.leaf_hash).where(LogEntry.idx >= len(t)).order_by(LogEntry.idx)):
                t.append_hash(bytes(h))
        return t


def _forget(s: Session) -> None:
    with _trees_lock:
        _trees.pop(str(s.get_bind().url), None)


def append(s: Session, config, entry: dict) -> tuple[int, dict]:
    """Append ``entry`` (already checked) and sign the new head; (index, head). Flushes, so a racing
    append at the same index fails on the primary key and the caller's transaction rolls back."""
    t = tree(s)
    body = ledger.canonical(entry)
    index = len(t)
    s.add(LogEntry(idx=index, body=body.decode(), leaf_hash=ledger.leaf_hash(body)))
    try:
        s.flush()
    except sa.exc.IntegrityError as exc:  # another writer appended at this index first
        _forget(s)
        raise Conflict("The ownership log moved on while this was written; try again.", code="log_busy") from exc
    t.append(body)
    head = ledger.sign_head(band_key(config), len(t), t.root(), int(time.time() * 1000))
    s.add(LogHead(size=head["size"], root=head["root"], timestamp=head["timestamp"], signature=head["signature"]))
    try:
        s.flush()
    except Exception:
        _forget(s)
        raise
    return index, head


def latest_head(s: Session) -> dict | None:
    row = s.scalar(sa.select(LogHead).order_by(LogHead.size.desc()).limit(1))
    if row is None:
        return None
    return {"size": row.size, "root": row.root, "timestamp": row.timestamp, "signature": row.signature}


def head_at(s: Session, size: int) -> dict:
    row = s.get(LogHead, size)
    if row is None:
        raise NotFound(f"no signed head for size {size}", code="head_not_found")
    return {"size": row.size, "root": row.root, "timestamp": row.timestamp, "signature": row.signature}


def _now_iso() -> str:
    return utcnow().replace(microsecond=0).isoformat() + "Z"


WORK_RE = re.compile(r"^(composition|version):[A-Za-z0-9_.:@/-]{1,100}$")


def valid_work(work) -> bool:
    """A work an edition series can be of: ``composition:<id>`` or ``version:<composition>@<tag>``."""
    return isinstance(work, str) and bool(WORK_RE.match(work))


def issue_for_order(s: Session, config, *, order_id: int, wp_user_id: int, lines: list[tuple[int, str]]) -> list[dict]:
    """Editions for a paid WooCommerce order: one per (line unit, work), idempotent per line unit (a
    webhook retry or reconciliation issues nothing new). A work without a series, or with fewer editions
    left than the order's new units of it, is reported and issues **none** of that work's units (never
    some of an order's editions); never raised: the order's other effects (entitlements) still apply."""
    out = []
    owner = owner_of_wp(wp_user_id)
    by_work: dict[str, list[str]] = {}
    for line, work in lines:
        by_work.setdefault(work, []).append(f"wc-order:{order_id}:{line}")
    for work, refs in by_work.items():
        series = s.scalar(sa.select(EditionSeries).where(EditionSeries.work == work))
        done = {e.order_ref: e for e in s.scalars(sa.select(Edition).where(Edition.order_ref.in_(refs)))}
        new = [r for r in refs if r not in done]
        left = remaining(s, series) if series is not None else 0
        refused = "no_series" if series is None else ("beyond_edition_count" if len(new) > left else None)
        for ref in refs:
            if ref in done:
                out.append({"work": work, "number": done[ref].number, "order_ref": ref})
            elif refused:
                out.append({"work": work, "refused": refused, "order_ref": ref,
                            "count": series.count if series is not None else 0, "left": left})
        if refused:
            continue
        try:
            with s.begin_nested():  # all of the work's new units, or none
                rows = [issue(s, config, work=work, owner=owner, order_ref=ref) for ref in new]
        except (Conflict, NotFound) as exc:  # a racing writer took the last ones meanwhile
            _forget(s)
            out.extend({"work": work, "refused": exc.code, "order_ref": ref} for ref in new)
            continue
        out.extend({"work": work, "number": row.number, "order_ref": row.order_ref} for row in rows)
    return out


def remaining(s: Session, series: EditionSeries) -> int:
    """How many editions of a series are still to be issued."""
    issued = s.scalar(sa.select(sa.func.count()).select_from(Edition).where(Edition.series_id == series.id)) or 0
    return max(0, series.count - issued)


def revoke_for_order(s: Session, config, *, order_id: int, reason: str) -> list[dict]:
    """Take back the editions a WooCommerce order issued (it was refunded, cancelled or deleted): each
    gets a ``revoke`` entry on the log, from whoever holds it now (a transfer does not keep an edition
    nobody paid for), its open transfer offers are cancelled, and its number is free to be issued
    again. Idempotent: a revoked edition has no row left to revoke."""
    rows = s.scalars(sa.select(Edition).where(Edition.order_ref.like(f"wc-order:{int(order_id)}:%"))
                     .order_by(Edition.id)).all()
    out = []
    for ed in rows:
        series = s.get(EditionSeries, ed.series_id)
        append(s, config, {"kind": "revoke", "work": series.work, "number": ed.number, "from": ed.owner,
                           "order": ed.order_ref or "", "reason": reason[:120], "time": _now_iso()})
        s.execute(sa.delete(Transfer).where(Transfer.edition_id == ed.id))
        out.append({"work": series.work, "number": ed.number, "from": ed.owner, "order_ref": ed.order_ref})
        s.delete(ed)
    s.flush()
    return out


def edition_products(s: Session, pricing: dict) -> list[dict]:
    """One WooCommerce product per edition series: what the plugin creates (``work`` is the line items'
    ``scripthammer_edition``), priced by the edition model, its stock the editions left."""
    model = pricing["models"]["edition"]
    out = []
    for series in s.scalars(sa.select(EditionSeries).order_by(EditionSeries.id)):
        left = remaining(s, series)
        out.append({"work": series.work, "name": series.title or series.work, "count": series.count,
                    "remaining": left, "sold_out": left == 0, "price": model["minimum"],
                    "suggested": model["suggested"], "name_your_price": bool(model["name_your_price"])})
    return out


def owner_of_wp(wp_user_id: int) -> str:
    return f"wp:{int(wp_user_id)}"


def create_series(s: Session, config, *, work: str, count: int, title: str = "", by: str = "") -> EditionSeries:
    """A work sold in ``count`` numbered editions (the band decides the count once)."""
    if s.scalar(sa.select(EditionSeries).where(EditionSeries.work == work)) is not None:
        raise Conflict(f"{work} already has editions", code="series_exists")
    row = EditionSeries(work=work, title=title, count=count, created_by=by)
    s.add(row)
    s.flush()
    append(s, config, {"kind": "series", "work": work, "count": count, "time": _now_iso()})
    return row


def issue(s: Session, config, *, work: str, owner: str, number: int | None = None,
          order_ref: str | None = None) -> Edition:
    """Issue the next (or the given) numbered edition of ``work`` to ``owner``. Idempotent per order:
    the same ``order_ref`` returns the edition it issued. Refused beyond the count, or twice."""
    series = s.scalar(sa.select(EditionSeries).where(EditionSeries.work == work))
    if series is None:
        raise NotFound(f"{work} has no editions", code="no_series")
    if order_ref:
        done = s.scalar(sa.select(Edition).where(Edition.order_ref == order_ref))
        if done is not None:
            return done
    taken = set(s.scalars(sa.select(Edition.number).where(Edition.series_id == series.id)))
    if number is None:
        free = [n for n in range(1, series.count + 1) if n not in taken]
        if not free:
            raise Conflict(f"all {series.count} editions of {work} are issued", code="beyond_edition_count",
                           details={"count": series.count})
        number = free[0]
    elif not 1 <= number <= series.count:
        raise Conflict(f"{work} has {series.count} editions; there is no number {number}",
                       code="beyond_edition_count", details={"count": series.count})
    elif number in taken:
        raise Conflict(f"edition {number} of {work} is already issued", code="already_issued")
    row = Edition(series_id=series.id, number=number, owner=owner, order_ref=order_ref)
    s.add(row)
    s.flush()
    append(s, config, {"kind": "issue", "work": work, "number": number, "to": owner, "order": order_ref or "",
                       "time": _now_iso()})
    return row


def offer_transfer(s: Session, *, edition_id: int, by: str, to: str) -> Transfer:
    """The owner's consent: an offer to ``to``. Nothing moves until ``to`` accepts."""
    ed = s.get(Edition, edition_id)
    if ed is None:
        raise NotFound(f"no edition {edition_id}", code="edition_not_found")
    if ed.owner != by:
        raise Forbidden("Only the edition's owner may offer it.", code="not_owner")
    if to == by:
        raise InvalidInput("A transfer goes to someone else.", code="bad_recipient")
    row = Transfer(edition_id=ed.id, from_owner=by, to_owner=to)
    s.add(row)
    s.flush()
    return row


def accept_transfer(s: Session, config, *, transfer_id: int, by: str) -> Transfer:
    """The recipient's consent: the edition moves (a log entry carrying both consents)."""
    t = s.get(Transfer, transfer_id)
    if t is None:
        raise NotFound(f"no transfer {transfer_id}", code="transfer_not_found")
    if t.to_owner != by:
        raise Forbidden("Only the recipient may accept a transfer.", code="not_recipient")
    if t.state != "offered":
        raise Conflict(f"this transfer is {t.state}", code="transfer_closed")
    ed = s.get(Edition, t.edition_id)
    if ed.owner != t.from_owner:
        raise Conflict("the edition changed hands since the offer", code="stale_offer")
    series = s.get(EditionSeries, ed.series_id)
    now = utcnow()
    entry = {"kind": "transfer", "work": series.work, "number": ed.number, "from": t.from_owner, "to": t.to_owner,
             "consents": {"from": t.offered_at.replace(microsecond=0).isoformat() + "Z",
                          "to": now.replace(microsecond=0).isoformat() + "Z"},
             "time": _now_iso()}
    index, _ = append(s, config, entry)
    ed.owner = t.to_owner
    t.state, t.accepted_at, t.log_index = "done", now, index
    return t


def entries(s: Session, start: int = 0, end: int | None = None) -> list[dict]:
    q = sa.select(LogEntry.body).where(LogEntry.idx >= start).order_by(LogEntry.idx)
    if end is not None:
        q = q.where(LogEntry.idx < end)
    return [json.loads(b) for b in s.scalars(q)]


def export(s: Session) -> dict:
    """The whole log and its latest signed head (what the offline verifier's ``log`` reads)."""
    head = latest_head(s)
    size = head["size"] if head else 0
    return {"format": "scripthammer-ownership-log/1", "entries": entries(s, 0, size), "head": head}


def certificate(s: Session, *, work: str, number: int, older: list[int] = ()) -> dict:
    """An edition's chain of custody with inclusion proofs against the latest signed head, and
    consistency proofs from each ``older`` head size (what the verifier's ``edition`` reads)."""
    head = latest_head(s)
    if head is None:
        raise NotFound("the log is empty", code="log_empty")
    t = tree(s)
    size = head["size"]
    chain = []
    for row in s.scalars(sa.select(LogEntry).where(LogEntry.idx < size).order_by(LogEntry.idx)):
        e = json.loads(row.body)
        if e.get("kind") in ("issue", "transfer", "revoke") and e.get("work") == work and e.get("number") == number:
            chain.append({"index": row.idx, "entry": e,
                          "proof": [ledger.b64(p) for p in t.inclusion(row.idx, size)]})
    if not chain:
        raise NotFound(f"edition {number} of {work} was never issued", code="edition_not_found")
    consistency = []
    for old in older:
        old_head = head_at(s, old)
        consistency.append({"head": old_head, "proof": [ledger.b64(p) for p in t.consistency(old, size)]})
    return {"format": "scripthammer-edition/1", "work": work, "number": number, "head": head, "chain": chain,
            "consistency": consistency}


def public_key_pem(config) -> str:
    from cryptography.hazmat.primitives import serialization

    return band_key(config).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def timestamp_of(head: dict) -> dt.datetime:
    return dt.datetime.fromtimestamp(head["timestamp"] / 1000, dt.timezone.utc)
