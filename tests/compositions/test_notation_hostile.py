"""Hostile or broken notation in uploaded MusicXML: each gets a clear answer (a piece without
the broken element, or 422 with nothing written), never a 500."""
from __future__ import annotations

import io
import json

import pytest

P = "/api/compositions"
BASE = """<?xml version="1.0"?><score-partwise version="3.1"><part-list><score-part id="P1"><part-name>X</part-name>
</score-part></part-list><part id="P1"><measure number="1"><attributes><divisions>1</divisions>ATTR</attributes>BODY
<note><pitch><step>C</step><octave>5</octave></pitch><duration>4</duration><type>whole</type>NOTE</note></measure>
</part></score-partwise>"""
TIME = "<time><beats>4</beats><beat-type>4</beat-type></time>"


def doc(attr=TIME, body="", note="") -> bytes:
    return BASE.replace("ATTR", attr).replace("BODY", body).replace("NOTE", note).encode()


def upload(client, h, data: bytes, cid: str):
    return client.post(f"{P}/import", headers=h, data={"file": (io.BytesIO(data), "x.musicxml"), "id": cid},
                       content_type="multipart/form-data")


@pytest.mark.parametrize("cid,data,absent", [
    ("key-99", doc(attr="<key><fifths>99</fifths></key>" + TIME), "key"),
    ("stray-wedge", doc(body='<direction><direction-type><wedge type="stop"/></direction-type></direction>'), "cresc"),
    ("stray-slur", doc(note='<notations><slur type="stop" number="1"/></notations>'), "slur"),
    ("tempo-zero", doc(body='<direction><direction-type><metronome><beat-unit>quarter</beat-unit><per-minute>0'
                            '</per-minute></metronome></direction-type><sound tempo="0"/></direction>'), "tempo"),
    ("tempo-negative", doc(body='<direction><direction-type><metronome><beat-unit>quarter</beat-unit><per-minute>-5'
                                '</per-minute></metronome></direction-type><sound tempo="-5"/></direction>'), "tempo"),
])
def test_a_broken_element_is_left_out_and_the_rest_imported(client, auth, cid, data, absent):
    h = auth("ivory")
    r = upload(client, h, data, cid)
    assert r.status_code == 201, r.json
    files = client.get(f"{P}/{cid}?text=1", headers=h).json["files"]
    body = "".join(l for l in (files["global.txt"] + files["parts/x.txt"]).splitlines() if not l.startswith("#"))
    assert f" {absent}" not in body and f"{absent}=" not in body
    assert "1| 0 C5 4 v64" in files["parts/x.txt"]
    for fmt in ("musicxml", "midi"):
        assert client.get(f"{P}/{cid}/export?format={fmt}", headers=h).status_code == 200


def test_two_hundred_verses_keep_ninety_nine(client, auth):
    h = auth("ivory")
    lyrics = "".join(f'<lyric number="{i}"><text>x{i}</text></lyric>' for i in range(1, 201))
    assert upload(client, h, doc(note=lyrics), "verses").status_code == 201
    line = client.get(f"{P}/verses?text=1", headers=h).json["files"]["parts/x.txt"].splitlines()[1]
    assert "lyric99=x99" in line and "lyric100" not in line


def test_an_absurd_transposition_is_not_taken(client, auth):
    h = auth("ivory")
    data = doc(attr=TIME + "<transpose><diatonic>-1</diatonic><chromatic>-2</chromatic><octave-change>-9"
                           "</octave-change></transpose>")
    r = upload(client, h, data, "deep")
    assert r.status_code == 201, r.json
    files = client.get(f"{P}/deep?text=1", headers=h).json["files"]
    assert "transposition" not in json.loads(files["composition.json"])["parts"][0]
    assert "1| 0 C5 4 v64" in files["parts/x.txt"]  # read as written


@pytest.mark.parametrize("data", [
    doc(attr="<time><beats>0</beats><beat-type>4</beat-type></time>"),
    doc(attr=TIME + "<clef><sign>X</sign><line>9</line></clef>"),
    doc(attr=TIME + "<transpose><diatonic>0</diatonic><chromatic>100</chromatic></transpose>"),
])
def test_unreadable_notation_is_422_and_nothing_written(client, auth, data):
    h = auth("ivory")
    r = upload(client, h, data, "broken")
    assert r.status_code == 422 and r.json["code"] == "bad_musicxml" and r.json["message"]
    assert client.get(f"{P}/broken", headers=h).status_code == 404


def test_an_odd_meter_exports_to_musicxml_and_midi(client, auth):
    """13/5 is kept in MusicXML; MIDI, which cannot hold a beat of a fifth, plays it without a time signature."""
    h = auth("ivory")
    assert upload(client, h, doc(attr="<time><beats>13</beats><beat-type>5</beat-type></time>"), "odd").status_code == 201
    r = client.get(f"{P}/odd/export?format=musicxml", headers=h)
    assert r.status_code == 200 and b"<beat-type>5</beat-type>" in r.data
    midi = client.get(f"{P}/odd/export?format=midi", headers=h)
    assert midi.status_code == 200 and midi.data[:4] == b"MThd"
