"""Credits and copyright (issue 13): per-note provenance from the git history, shares by sounding
duration, the split sheet, ISRC/ISWC, credits in the rendition tags and the WordPress post.

Real parts throughout: the band's seven algorithms generate into a real git store, a member edits by
hand through commit_change, the API runs on the real app, the release pipeline encodes real files and
mutagen reads their tags back."""
from __future__ import annotations

import csv
import dataclasses
import io
from fractions import Fraction

import pytest

from companion.algorithms.base import Params
from companion.algorithms.generate import generate
from companion.algorithms.registry import MEMBERS
from companion.compositions import service as S
from companion.compositions.model import Composition
from companion.compositions.rights import member_actor
from companion.compositions.store import Store
from companion.rights import credits as C
from tests.conftest import make_audio

SEED = 5
HAND = "0 C5 1 v80 ; 1 D5 1/2 v81 ; 3/2 E5 5/2 v70"  # Reed's hand-written measure: 1 + 1/2 + 5/2 = 4 quarters
HAND_QUARTERS = Fraction(4)


def _piece(store: Store, band, comp_id: str = "blue-dot", visibility: str = "private") -> dict:
    """The whole band generates 8 measures (seed 5), Ivory merges into main, then Reed rewrites measure 2
    of his sax part by hand. Returns ids of the commits that matter."""
    ivory = member_actor(band, "ivory")
    res = generate(store, band, ivory, comp_id=comp_id, title="Blue Dot", seed=SEED, params=Params(), measures=8,
                   members=list(MEMBERS), visibility=visibility)
    assert sorted({c["member"] for c in res["commits"]}) == sorted(MEMBERS)  # all seven algorithms wrote
    S.merge(store, band, ivory, comp_id, res["branch"], "main")
    reed = member_actor(band, "reed")
    head = store.head(store.repo(comp_id), "main")
    edit = S.commit_change(store, band, reed, comp_id, "main", head, "Reed plays measure 2 his way",
                           changes={"parts": {"sax": {"measures": {"2": HAND}}}})
    return {"generation": res, "edit": edit["id"],
            "chops": next(c["id"] for c in res["commits"] if c["member"] == "chops")}


def _durations(store: Store, comp_id: str, rev: str = "main") -> dict[str, Fraction]:
    """Part id -> sum of its notes' durations, read straight from the version's files."""
    repo = store.repo(comp_id)
    comp = Composition.from_files(store.read_files(repo, store.resolve(repo, rev)))
    comp.parse_all()
    return {p.id: sum((Fraction(e.dur) for _, e in comp.all_events(p.id) if e.kind == "note" and not e.grace),
                      Fraction(0)) for p in comp.parts}


@pytest.fixture
def local(tmp_path):
    from companion.band.roster import load_band
    from companion.config import Config

    band = load_band(Config(var_dir=tmp_path).band_file)
    store = Store(tmp_path / "compositions")
    return store, band, _piece(store, band)


# --------------------------------------------------------------------------- shares and provenance

def test_shares_of_seven_algorithms_and_one_human_edit(local):
    store, band, ids = local
    c = C.compute(store, band, "blue-dot", "main")
    parts = _durations(store, "blue-dot")
    total = sum(parts.values())
    assert Fraction(c["total_weight"]) == total > 0
    shares = {s["member"]: s for s in c["shares"]}
    # the human edit: Reed's hand-written quarter notes over the total, beside his algorithm's surviving notes
    reed = shares["reed"]
    assert Fraction(reed["hand_quarters"]) == HAND_QUARTERS
    assert Fraction(reed["hand_quarters"]) / Fraction(c["total_weight"]) == HAND_QUARTERS / total
    assert Fraction(reed["share_exact"]) == parts["sax"] / total  # the whole sax part is his, hand or algorithm
    assert "reed/reed-alto-sax" in reed["algorithms"]
    hand_commits = [k for k in c["commits"] if k["kind"] == "hand"]
    assert [(k["commit"], k["member"], Fraction(k["quarters"])) for k in hand_commits] == \
        [(ids["edit"], "reed", HAND_QUARTERS)]
    # every other member's share is exactly their parts' sounding duration over the total
    assert Fraction(shares["chops"]["share_exact"]) == parts["guitar"] / total
    assert Fraction(shares["crash"]["share_exact"]) == (parts["drums"] + parts["bass"]) / total
    assert Fraction(shares["ivory"]["share_exact"]) == (parts["keys"] + parts["synth"]) / total
    assert sum(Fraction(s["share_exact"]) for s in c["shares"]) == 1
    # Form writes structure and the mix (no notes): a performer, not a writer
    assert "form" not in shares and any(p["member"] == "form" for p in c["performers"])


def test_the_algorithmic_factor_weighs_generated_notes(local):
    store, band, _ = local
    parts = _durations(store, "blue-dot")
    generated = sum(parts.values()) - HAND_QUARTERS
    half = C.compute(store, band, "blue-dot", "main", weight=Fraction(1, 2))
    assert half["policy"]["algorithmic_weight"] == "1/2"
    assert Fraction(half["total_weight"]) == generated / 2 + HAND_QUARTERS
    reed = next(s for s in half["shares"] if s["member"] == "reed")
    assert Fraction(reed["share_exact"]) == ((parts["sax"] - HAND_QUARTERS) / 2 + HAND_QUARTERS) / \
        Fraction(half["total_weight"])


def test_a_notes_provenance_names_commit_member_algorithm_and_seed(local):
    store, band, ids = local
    c = C.compute(store, band, "blue-dot", "main", with_notes=True)
    hand = C.note_provenance(c, "sax", 2, onset="1", pitch="D5")
    assert len(hand) == 1 and hand[0]["commit"] == ids["edit"] and hand[0]["member"] == "reed"
    assert hand[0]["kind"] == "hand" and hand[0]["algorithm"] is None and hand[0]["seed"] is None
    first_guitar = C.note_provenance(c, "guitar", 1)[0]
    assert first_guitar["commit"] == ids["chops"] and first_guitar["member"] == "chops"
    assert first_guitar["kind"] == "generated" and first_guitar["algorithm"] == "chops/chops-guitar"
    assert first_guitar["seed"] == SEED
    # the generator's commits carry it machine-readably
    msg = store.repo("blue-dot")[ids["chops"]].message
    assert f"Generated-by: chops/chops-guitar part=guitar seed={SEED} version=" in msg


def test_one_changed_note_moves_alone_and_a_typed_trailer_is_not_a_generation(local):
    store, band, ids = local
    before = C.compute(store, band, "blue-dot", "main", with_notes=True)
    row = C.note_provenance(before, "guitar", 3)
    assert len(row) >= 2 and all(n["commit"] == ids["chops"] for n in row)
    target = row[0]
    repo = store.repo("blue-dot")
    comp = Composition.from_files(store.read_files(repo, store.resolve(repo, "main")))
    events = comp.events("guitar", 3)
    new = [e if e.to_text() != target["token"] else dataclasses.replace(e, vel=127 if e.vel != 127 else 100)
           for e in events]
    chops = member_actor(band, "chops")
    # a message that types a Generated-by line into its text is still a hand edit
    forged = "Louder\n\nGenerated-by: reed/reed-alto-sax part=guitar seed=9 version=1.0"
    edit = S.commit_change(store, band, chops, "blue-dot", "main", store.head(repo, "main"), forged,
                           changes={"parts": {"guitar": {"measures": {"3": [e.to_dict() for e in new]}}}})
    after = C.compute(store, band, "blue-dot", "main", with_notes=True)
    moved = [n for n in C.note_provenance(after, "guitar", 3) if n["commit"] == edit["id"]]
    assert len(moved) == 1 and moved[0]["onset"] == target["onset"] and moved[0]["pitch"] == target["pitch"]
    assert moved[0]["kind"] == "hand" and moved[0]["seed"] is None and moved[0]["member"] == "chops"
    others = [n for n in C.note_provenance(after, "guitar", 3) if n["commit"] != edit["id"]]
    assert len(others) == len(row) - 1 and all(n["commit"] == ids["chops"] for n in others)


def test_a_merge_keeps_each_notes_author(local):
    """Brass edits on a branch while Chops edits main; Ivory's merge commit writes no note of its own."""
    store, band, ids = local
    brass, chops, ivory = (member_actor(band, m) for m in ("brass", "chops", "ivory"))
    S.create_branch(store, band, brass, "blue-dot", "brass-take", "main")
    repo = store.repo("blue-dot")
    b = S.commit_change(store, band, brass, "blue-dot", "brass-take", store.head(repo, "brass-take"), "Brass's intro",
                        changes={"parts": {"trumpet": {"measures": {"1": "0 G4 2 v90 ; 2 A4 2 v90"}}}})
    c = S.commit_change(store, band, chops, "blue-dot", "main", store.head(repo, "main"), "One big chord",
                        changes={"parts": {"guitar": {"measures": {"5": "0 E3 4 v70"}}}})
    merged = S.merge(store, band, ivory, "blue-dot", "brass-take", "main")
    assert merged["status"] == "merge"
    out = C.compute(store, band, "blue-dot", "main", with_notes=True)
    assert {n["commit"] for n in C.note_provenance(out, "trumpet", 1)} == {b["id"]}
    assert {n["commit"] for n in C.note_provenance(out, "guitar", 5)} == {c["id"]}
    assert {n["commit"] for n in C.note_provenance(out, "sax", 2)} == {ids["edit"]}
    assert all(n["commit"] != merged["id"] for n in out["provenance"])
    hand = {s["member"]: Fraction(s["hand_quarters"]) for s in out["shares"]}
    assert (hand["brass"], hand["chops"], hand["reed"]) == (4, 4, HAND_QUARTERS)


def test_isrc_and_iswc_formats():
    assert C.normalize_isrc("us-s1z-99-00001") == "USS1Z9900001"
    assert C.normalize_isrc("USS1Z9900001") == "USS1Z9900001"
    assert C.isrc_display("USS1Z9900001") == "US-S1Z-99-00001"
    assert C.normalize_iswc("T-034.524.680-1") == "T-034.524.680-1"
    assert C.normalize_iswc("T0345246801") == "T-034.524.680-1"
    for bad in ("US-S1Z-99-0001", "U1S1Z9900001", "USS1Z99000011", "US_S1Z_99_00001", "", "US-S1Z9-9-00001"):
        with pytest.raises(Exception) as exc:
            C.normalize_isrc(bad)
        assert exc.value.code == "bad_isrc"
    for bad in ("T-034.524.680-2", "T-034.524.68-1", "034.524.680-1", "T-034.524.680", "X-034.524.680-1"):
        with pytest.raises(Exception) as exc:
            C.normalize_iswc(bad)
        assert exc.value.code == "bad_iswc"


# --------------------------------------------------------------------------- over HTTP

@pytest.fixture
def band_piece(svc):
    store = Store(svc.config.compositions_dir)
    return store, _piece(store, svc.band)


def _track(svc, title="Blue Dot (album version)", state="draft") -> int:
    from companion.catalog import service as catalog

    with svc.db.session() as s:
        return catalog.create_track(s, title=title, release_state=state).id


def test_split_sheet_csv_and_page(client, auth, svc, band_piece):
    store, ids = band_piece
    r = client.get("/api/rights/credits/blue-dot/split-sheet.csv", headers=auth("crash"))
    assert r.status_code == 200 and r.mimetype == "text/csv", r.data[:300]
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    parts = _durations(store, "blue-dot")
    total = sum(parts.values())
    writers = {"chops": parts["guitar"], "crash": parts["drums"] + parts["bass"],
               "ivory": parts["keys"] + parts["synth"], "reed": parts["sax"], "brass": parts["trumpet"],
               "verse": parts["vocals"]}
    expect = {m for m, q in writers.items() if q}
    assert {row["member"] for row in rows} == expect and len(rows) == len(expect)
    for row in rows:
        assert Fraction(row["share_exact"]) == writers[row["member"]] / total
        assert row["version"] == ids["edit"]
    assert next(r for r in rows if r["member"] == "reed")["hand_quarters"] == "4"
    assert abs(sum(float(r["share_percent"]) for r in rows) - 100) < 0.1
    page = client.get("/api/rights/credits/blue-dot/split-sheet.html", headers=auth("ivory"))
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "Split sheet: Blue Dot" in page.get_data(as_text=True) and "Signature" in page.get_data(as_text=True)
    j = client.get("/api/rights/credits/blue-dot?notes=true", headers=auth("ivory")).get_json()
    assert j["version"]["id"] == ids["edit"] and any(n["commit"] == ids["edit"] for n in j["provenance"])


def test_bad_codes_are_refused_and_nothing_is_stored(client, auth, svc, band_piece):
    from companion.catalog.models import Track
    from companion.rights.models import CompositionCode

    tid = _track(svc)
    cases = [{"isrc": "US-S1Z-99-0001"}, {"iswc": "T-034.524.680-2"},
             {"isrc": "US-S1Z-99-00001", "iswc": "T-034.524.680-9"},  # one good, one bad: neither stored
             {"isrc": "US-S1Z-99-00001", "composition": "blue-dot", "rev": "no-such-branch"}]
    for body in cases:
        r = client.put(f"/api/rights/tracks/{tid}/codes", json=body, headers=auth("ivory"))
        assert r.status_code in (400, 404), (body, r.get_json())
        assert r.get_json()["code"] in ("bad_isrc", "bad_iswc", "revision_not_found")
    r = client.put("/api/rights/credits/blue-dot/codes", json={"iswc": "T-034.524.680-0"}, headers=auth("ivory"))
    assert r.status_code == 400 and r.get_json()["code"] == "bad_iswc"
    with svc.db.session() as s:
        t = s.get(Track, tid)
        assert (t.isrc, t.iswc, t.composition_id, t.composition_commit) == (None, None, None, None)
        assert s.get(CompositionCode, "blue-dot") is None
    # good codes are stored, normalised, and a second track may not take the same ISRC
    r = client.put(f"/api/rights/tracks/{tid}/codes", json={"isrc": "us-s1z-99-00001", "composition": "blue-dot"},
                   headers=auth("ivory"))
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["isrc"] == "USS1Z9900001" and r.get_json()["linked"] is True
    r = client.put("/api/rights/credits/blue-dot/codes", json={"iswc": "T0345246801"}, headers=auth("ivory"))
    assert r.status_code == 200 and r.get_json()["iswc"] == "T-034.524.680-1"
    other = _track(svc, "Another take")
    r = client.put(f"/api/rights/tracks/{other}/codes", json={"isrc": "USS1Z9900001"}, headers=auth("ivory"))
    assert r.status_code == 409 and r.get_json()["code"] == "isrc_taken"
    got = client.get(f"/api/rights/tracks/{tid}/credits", headers=auth("crash")).get_json()
    assert got["iswc"] == "T-034.524.680-1" and got["isrc_display"] == "US-S1Z-99-00001"
    assert {s["member"] for s in got["credits"]["shares"]} >= {"reed", "chops", "crash", "ivory"}


def test_an_unlinked_track_says_so(client, auth, svc):
    tid = _track(svc, "An uploaded jam")
    got = client.get(f"/api/rights/tracks/{tid}/credits", headers=auth("ivory")).get_json()
    assert got["linked"] is False and got["credits"] is None and "not linked" in got["message"]


def test_who_may_read_and_set_credits(client, auth, svc, fan, band_piece, make_guest_token):
    """The band reads any version; a guest only the piece their invitation names; a listener only a
    released version of a public piece; only the leader sets codes."""
    store, ids = band_piece
    url = "/api/rights/credits/blue-dot"
    assert client.get(url).status_code == 401
    for path in (url, url + "/split-sheet.csv", url + "/split-sheet.html"):
        r = client.get(path, headers=fan())
        assert r.status_code == 403 and r.get_json()["code"] == "private_composition", path
        r = client.get(path, headers=auth("listener"))
        assert r.status_code == 403, path
    outsider = make_guest_token(parts=["sax"], branches=["main"], compositions=["other-piece"])
    assert client.get(url, headers={"Authorization": f"Bearer {outsider}"}).status_code == 403
    invited = make_guest_token(parts=["sax"], branches=["main"], compositions=["blue-dot"])
    assert client.get(url, headers={"Authorization": f"Bearer {invited}"}).status_code == 200
    assert client.get(url, headers=auth("brass")).status_code == 200
    # codes: the leader's alone, refused before the body is read
    tid = _track(svc, state="public")
    for who in ("brass", "listener"):
        r = client.put(f"/api/rights/tracks/{tid}/codes", json={"isrc": "USS1Z9900001"}, headers=auth(who))
        assert r.status_code == 403 and r.get_json()["code"] == "missing_right", who
        r = client.put(url + "/codes", json={"iswc": "T-034.524.680-1"}, headers=auth(who))
        assert r.status_code == 403, who
    assert client.put(f"/api/rights/tracks/{tid}/codes", json={"isrc": "USS1Z9900001"}).status_code == 401
    r = client.put(f"/api/rights/tracks/{tid}/codes", json={"isrc": "USS1Z9900001"},
                   headers={"Authorization": f"Bearer {invited}"})
    assert r.status_code == 403
    # a released track of a private piece: its credits (shares, no notes) are public, the piece's are not
    assert client.put(f"/api/rights/tracks/{tid}/codes", json={"composition": "blue-dot"},
                      headers=auth("ivory")).status_code == 200
    assert client.get(f"/api/rights/tracks/{tid}/credits", headers=fan()).status_code == 200
    assert client.get(url, headers=fan()).status_code == 403
    # the piece goes public: its released version's credits are anyone's, other versions stay the band's
    ivory = member_actor(svc.band, "ivory")
    S.commit_change(store, svc.band, ivory, "blue-dot", "main", None, "Go public",
                    changes={"metadata": {"visibility": "public"}})
    r = client.get(url, headers=fan())
    assert r.status_code == 200 and r.get_json()["version"]["id"] == ids["edit"], r.get_json()
    assert client.get(url + "/split-sheet.csv").status_code == 200  # anonymous: released and public
    r = client.get(url + "?rev=main", headers=fan())  # main moved on (the visibility commit): not released
    assert r.status_code == 403 and r.get_json()["code"] == "credits_not_released"
    # a draft track's credits are not a listener's
    draft = _track(svc, "Draft", state="draft")
    client.put(f"/api/rights/tracks/{draft}/codes", json={"composition": "blue-dot"}, headers=auth("ivory"))
    assert client.get(f"/api/rights/tracks/{draft}/credits", headers=fan()).status_code == 404


# --------------------------------------------------------------------------- tags and WordPress

def test_credits_are_in_every_renditions_tags_and_the_post(client, auth, svc, band_piece, tmp_path):
    import mutagen
    from mutagen.id3 import ID3
    from mutagen.mp4 import MP4

    from companion.catalog.models import Track
    from companion.media.release import release_track
    from companion.wordpress.service import track_credits, track_fields

    tid = _track(svc, state="public")
    r = client.put(f"/api/rights/tracks/{tid}/codes", headers=auth("ivory"),
                   json={"isrc": "US-S1Z-26-00013", "composition": "blue-dot"})
    assert r.status_code == 200
    client.put("/api/rights/credits/blue-dot/codes", json={"iswc": "T-034.524.680-1"}, headers=auth("ivory"))
    rec = make_audio(tmp_path / "take.wav", seconds=3.0)
    with open(rec, "rb") as fh:
        up = client.post(f"/api/tracks/{tid}/upload", data={"file": (fh, "take.wav")}, headers=auth("ivory"),
                         content_type="multipart/form-data")
    assert up.status_code == 202, up.get_json()
    release_track(svc, tid)
    expected = C.compute(Store(svc.config.compositions_dir), svc.band, "blue-dot", "main")
    composers = [s["name"] for s in expected["shares"]]
    with svc.db.session() as s:
        renditions = [(r.name, r.key) for r in s.get(Track, tid).renditions]
    assert len(renditions) >= 10
    families = set()
    for name, key in renditions:
        path = svc.store.local_path(key)
        f = mutagen.File(str(path))
        tags = f.tags
        families.add("id3" if isinstance(tags, ID3) else "mp4" if isinstance(f, MP4) else "vorbis")
        if isinstance(tags, ID3):
            assert tags["TCOM"].text == composers, name
            assert tags["TSRC"].text == ["USS1Z2600013"], name
            assert ["Alto saxophone", "Reed"] in [list(p) for p in tags["TMCL"].people], name
            assert tags["TXXX:ISWC"].text == ["T-034.524.680-1"], name
            assert "Reed" in tags["TXXX:SCRIPTHAMMER_CREDITS"].text[0], name
        elif isinstance(f, MP4):
            assert list(f["\xa9wrt"]) == composers, name
            assert bytes(f["----:com.apple.iTunes:ISRC"][0]) == b"USS1Z2600013", name
        else:  # Vorbis comments (FLAC, Ogg Vorbis, Opus)
            assert f["COMPOSER"] == composers, name
            assert f["ISRC"] == ["USS1Z2600013"] and f["ISWC"] == ["T-034.524.680-1"], name
            assert "Reed (Alto saxophone)" in f["PERFORMER"], name
    assert families == {"id3", "mp4", "vorbis"}
    # the WordPress post's meta
    with svc.db.session() as s:
        track = s.get(Track, tid)
        meta = track_fields(svc.config, track, None, track_credits(svc, s, track))["meta"]
    assert meta["scripthammer_isrc"] == "US-S1Z-26-00013" and meta["scripthammer_iswc"] == "T-034.524.680-1"
    assert meta["scripthammer_credits"].startswith("Written by ") and "Reed" in meta["scripthammer_credits"]
    assert "Performed by" in meta["scripthammer_credits"]


def test_cli_prints_the_split_sheet(app, svc, band_piece):
    import subprocess
    import sys
    from pathlib import Path

    from tests.rights.test_cli import _env

    root = Path(__file__).resolve().parents[2]
    cli = [sys.executable, "-m", "companion.cli", "rights", "credits"]
    env = _env(svc)
    proc = subprocess.run([*cli, "blue-dot", "--format", "csv"], env=env, capture_output=True, timeout=300, cwd=root)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    rows = list(csv.DictReader(io.StringIO(proc.stdout.decode())))
    expected = C.split_rows(C.compute(Store(svc.config.compositions_dir), svc.band, "blue-dot"))
    assert [(r["member"], r["share_exact"]) for r in rows] == [(r["member"], r["share_exact"]) for r in expected]
    proc = subprocess.run([*cli, "blue-dot"], env=env, capture_output=True, timeout=300, cwd=root)
    assert proc.returncode == 0 and "Reed" in proc.stdout.decode() and "%" in proc.stdout.decode()
    proc = subprocess.run([*cli, "no-such-piece"], env=env, capture_output=True, timeout=300, cwd=root)
    assert proc.returncode == 2 and "composition_not_found" in proc.stderr.decode()
