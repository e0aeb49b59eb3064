"""atheris fuzz targets for the companion's parsers of outside input, and their seeds.

Each target takes bytes and feeds them to one parser. A parser may refuse its input only with the
companion's typed errors (a :class:`companion.errors.ScriptHammerError`, which the API turns into a
clear 4xx); any other exception, a hang or a crash of the interpreter is a finding.

Run one target (libFuzzer's options after its name):

    .venv/bin/python tests/hostile/fuzz_targets.py midi -max_total_time=30 -artifact_prefix=/tmp/x/ CORPUS_DIR

tests/hostile/test_fuzz.py runs every target for a bounded time in the suite and replays the
regression inputs kept in tests/hostile/fuzz_regressions/<target>/ (every crash found so far);
scripts/fuzz-nightly.sh runs them longer; bench/fuzz.py counts the crashes still open.
"""
from __future__ import annotations

import io
import json
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

REGRESSIONS = Path(__file__).resolve().parent / "fuzz_regressions"

# --------------------------------------------------------------------------- targets


def _expected():
    from companion.errors import ScriptHammerError

    return ScriptHammerError


def target_shf(data: bytes) -> None:
    """The SHF bundle reader: open a (hostile) zip, then extract it."""
    from companion.shf.reader import extract, open_bundle

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "in.shf"
        path.write_bytes(data)
        try:
            bundle = open_bundle(path)
            extract(bundle, Path(d) / "out")
        except _expected():
            pass


def target_midi(data: bytes) -> None:
    from companion.compositions.midi import read_midi

    try:
        read_midi(data)
    except _expected():
        pass


def target_musicxml(data: bytes) -> None:
    from companion.compositions.musicxml import read_musicxml

    try:
        read_musicxml(data)
    except _expected():
        pass


def _files_of(data: bytes) -> dict[str, bytes]:
    """The files of a stored composition from one byte string: metadata, global and part texts
    separated by NUL bytes (each part's text under the id the metadata names, in order)."""
    from companion.compositions.model import GLOBAL_FILE, METADATA_FILE, PARTS_DIR

    chunks = data.split(b"\0")
    files = {METADATA_FILE: chunks[0]}
    if len(chunks) > 1:
        files[GLOBAL_FILE] = chunks[1]
    try:
        ids = [p.get("id") for p in json.loads(chunks[0]).get("parts", []) if isinstance(p, dict)]
    except Exception:  # noqa: BLE001 - the parser itself must refuse it
        ids = []
    for pid, text in zip(ids, chunks[2:]):
        files[f"{PARTS_DIR}/{pid}.txt"] = text
    return files


def target_composition_format(data: bytes) -> None:
    """The composition format (JSON metadata, global and part texts), as a repository or an SHF holds it."""
    from companion.compositions.model import Composition

    try:
        Composition.from_files(_files_of(data)).parse_all()
    except _expected():
        pass


def target_hls(data: bytes) -> None:
    """Media and master playlists (what the release pipeline reads back)."""
    from companion.media.hls import parse_master_playlist, read_media_playlist

    text = data.decode("utf-8", "replace")
    for parse in (read_media_playlist, parse_master_playlist):
        try:
            parse(text)
        except _expected():
            pass


def target_peaks(data: bytes) -> None:
    """Peaks of any samples (16-bit, any length, any sample rate the first bytes name)."""
    import numpy as np

    from companion.media.peaks import peaks_from_samples

    if len(data) < 2:
        return
    rate = int.from_bytes(data[:2], "little") or 1
    samples = np.frombuffer(data[2:len(data) - (len(data) - 2) % 2], dtype="<i2").astype(np.float32) / 32768.0
    try:
        peaks_from_samples(samples, rate)
    except _expected():
        pass


def target_signed_request(data: bytes) -> None:
    """The signed-request verifier: headers and body as WordPress sends them, or anything else."""
    from companion.band.signing import RequestSignatureError, verify

    parts = data.split(b"\n", 4) + [b""] * 5
    headers = {"X-ScriptHammer-Timestamp": parts[0].decode("latin-1"),
               "X-ScriptHammer-Nonce": parts[1].decode("latin-1"),
               "X-ScriptHammer-Signature": parts[2].decode("latin-1")}
    seen: set = set()

    def remember(nonce, _ttl):
        if nonce in seen:
            return False
        seen.add(nonce)
        return True

    try:
        verify("fuzz-secret", "POST", parts[3].decode("latin-1"), parts[4], headers, remember_nonce=remember,
               now=1_700_000_000)
    except (RequestSignatureError, _expected()):
        pass


def target_instrument(data: bytes) -> None:
    from companion.algorithms.instruments import parse_instrument

    try:
        parse_instrument(data.decode("utf-8", "replace"))
    except _expected():
        pass


def target_beacon(data: bytes) -> None:
    from companion.analytics.service import parse_beacon

    try:
        payload = json.loads(data)
    except (ValueError, RecursionError):
        return  # the API answers beacon_not_json before this parser
    try:
        parse_beacon(payload)
    except _expected():
        pass


_SESSION = None


def _commerce_session():
    global _SESSION
    if _SESSION is None:
        import sqlalchemy as sa
        from sqlalchemy.orm import Session

        from companion.db import Base
        from companion.models import import_models

        import_models()
        engine = sa.create_engine("sqlite://")
        Base.metadata.create_all(engine)
        _SESSION = Session(engine)
    return _SESSION


def target_webhook(data: bytes) -> None:
    """A WooCommerce webhook body (order or subscription, created/updated/deleted) as the job parses it."""
    import datetime as dt

    from companion.commerce.entitlements import parse

    try:
        payload = json.loads(data)
    except (ValueError, RecursionError):
        return  # refused as bad JSON before this parser
    s = _commerce_session()
    kind = "subscription" if (isinstance(payload, dict) and "billing_period" in payload) else "order"
    event = "deleted" if isinstance(payload, dict) and payload.get("_deleted") else "updated"
    try:
        parse(s, kind, event, payload, grace=dt.timedelta(days=3))
    except _expected():
        pass
    finally:
        s.rollback()


TARGETS = {
    "shf": target_shf,
    "midi": target_midi,
    "musicxml": target_musicxml,
    "composition_format": target_composition_format,
    "hls": target_hls,
    "peaks": target_peaks,
    "signed_request": target_signed_request,
    "instrument": target_instrument,
    "beacon": target_beacon,
    "webhook": target_webhook,
}

# --------------------------------------------------------------------------- seeds


def _seed_midi() -> bytes:
    import mido

    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    cond = mido.MidiTrack([mido.MetaMessage("time_signature", numerator=3, denominator=4),
                           mido.MetaMessage("set_tempo", tempo=500000), mido.MetaMessage("key_signature", key="Bb")])
    lead = mido.MidiTrack([mido.MetaMessage("track_name", name="Lead"), mido.Message("program_change", program=0)])
    for i, note in enumerate((60, 62, 64, 65, 67)):
        lead.append(mido.Message("note_on", note=note, velocity=90, time=0 if i == 0 else 0))
        lead.append(mido.Message("note_off", note=note, velocity=0, time=480))
    mid.tracks.extend([cond, lead])
    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()


def seeds(name: str) -> list[bytes]:
    """A few valid inputs for ``name`` (the fuzzer mutates from them), made by our own writers."""
    out: list[bytes] = []
    try:
        if name == "midi":
            out.append(_seed_midi())
        elif name in ("musicxml", "composition_format"):
            from companion.compositions.midi import read_midi
            from companion.compositions.model import GLOBAL_FILE, METADATA_FILE, PARTS_DIR
            from companion.compositions.musicxml import write_musicxml

            comp = read_midi(_seed_midi(), title="Seed")
            if name == "musicxml":
                out.append(write_musicxml(comp))
            else:
                files = comp.to_files()
                out.append(b"\0".join([files[METADATA_FILE], files.get(GLOBAL_FILE, b"")]
                                       + [files[f"{PARTS_DIR}/{p.id}.txt"] for p in comp.parts]))
    except Exception:  # noqa: BLE001 - a seed is a help, not a requirement
        pass
    if name == "hls":
        out.append(b"#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n#EXT-X-PLAYLIST-TYPE:VOD\n"
                   b"#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:4.0,\nseg0.m4s\n#EXTINF:2.5,\nseg1.m4s\n#EXT-X-ENDLIST\n")
        out.append(b"#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-STREAM-INF:BANDWIDTH=96000,AVERAGE-BANDWIDTH=90000,"
                   b"CODECS=\"mp4a.40.2\"\n96k/index.m3u8\n")
    if name == "peaks":
        out.append((44100 % 65536).to_bytes(2, "little") + bytes(range(256)) * 8)
    if name == "signed_request":
        import hashlib
        import hmac

        from companion.band.signing import string_to_sign
        ts, nonce, body, path = "1700000000", "abcdefghijklmnop", b'{"a":1}', "/api/wordpress/ping"
        sig = hmac.new(b"fuzz-secret", string_to_sign("POST", path, ts, nonce, body).encode(), hashlib.sha256).hexdigest()
        out.append("\n".join([ts, nonce, sig, path]).encode() + b"\n" + body)
    if name == "instrument":
        for p in sorted((ROOT / "companion" / "algorithms" / "instruments").glob("*.toml"))[:3]:
            out.append(p.read_bytes())
    if name == "beacon":
        out.append(json.dumps({"session": "s" * 16, "events": [{"track": 1, "type": "play", "at": 0},
                                                              {"track": 1, "type": "progress", "from": 0, "to": 10}]}).encode())
    if name == "webhook":
        out.append(json.dumps({"id": 101, "status": "completed", "customer_id": 42, "date_paid_gmt": "2026-01-01T10:00:00",
                               "date_modified_gmt": "2026-01-01T10:00:00",
                               "line_items": [{"product_id": 501, "scripthammer_scope": "track:7"},
                                              {"product_id": 650, "scripthammer_scope": "all", "scripthammer_days": 365}]}).encode())
        out.append(json.dumps({"id": 7, "status": "active", "billing_period": "month", "customer_id": 3,
                               "next_payment_date_gmt": "2026-02-01T00:00:00",
                               "line_items": [{"product_id": 650, "scripthammer_scope": "all"}]}).encode())
    if name == "shf":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("manifest.json", json.dumps({"shf": "1.0", "files": {}}))
            zf.writestr("composition.json", "{}")
        out.append(buf.getvalue())
    return out


def regressions(name: str) -> list[Path]:
    d = REGRESSIONS / name
    return sorted(p for p in d.iterdir() if p.is_file()) if d.is_dir() else []


def main(argv: list[str]) -> None:
    import atheris

    if len(argv) < 2 or argv[1] not in TARGETS:
        raise SystemExit(f"usage: {argv[0]} TARGET [libFuzzer options] [CORPUS_DIR]; targets: {', '.join(TARGETS)}")
    name = argv[1]
    target = TARGETS[name]
    corpus = [a for a in argv[2:] if not a.startswith("-")]
    for d in corpus:  # seed an empty corpus folder
        folder = Path(d)
        folder.mkdir(parents=True, exist_ok=True)
        if not any(folder.iterdir()):
            for i, seed in enumerate(seeds(name) + [p.read_bytes() for p in regressions(name)]):
                (folder / f"seed-{i}").write_bytes(seed)
    with atheris.instrument_imports(include=["companion"]):
        target(b"")  # imports what the target needs, instrumented for coverage guidance
    atheris.Setup([argv[0], *argv[2:]], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
