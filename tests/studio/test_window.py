"""A window of measures exported alone reads as it does in the whole piece (no browser)."""
from __future__ import annotations

from companion.compositions.model import Composition
from companion.studio.service import window_files, window_musicxml


def _files():
    meta = ('{"format": "scripthammer-composition", "version": 2, "title": "W", "visibility": "private", '
            '"measures": 4, "parts": [{"id": "vn", "name": "Violin", "kind": "melody", "owner": null, '
            '"program": 40, "channel": 0, "file": "parts/vn.txt"}]}')
    glob = "1| 0 meter 3/4 ; 0 key F major ; 0 tempo 600000us ~100bpm\n3| 0 tempo 500000us ~120bpm\n"
    part = ("1| 0 clef=C3 ; 0 C4 1 v80\n2| 0 D4 3 v80\n3| 0 clef=G2 ; 0 E5 1 v70 art=staccato\n"
            "4| 0 F5 3 v90\n")
    return {"composition.json": meta.encode(), "global.txt": glob.encode(), "parts/vn.txt": part.encode()}


def test_window_carries_clef_key_meter_tempo_and_renumbers():
    out = window_files(_files(), 2, 3)
    comp = Composition.from_files(out)
    assert comp.measures == 2
    assert [str(e.to_text()) for e in comp.events("vn", 1)] == ["0 clef=C3", "0 D4 3 v80"]
    assert [e.to_text() for e in comp.events("vn", 2)] == ["0 clef=G2", "0 E5 1 v70 art=staccato"]
    kinds = {(g.measure, g.kind): g.value for g in comp.global_events}
    assert kinds[(1, "meter")] == "3/4" and kinds[(1, "key")] == (-1, "major") and kinds[(1, "tempo")] == 600000
    assert kinds[(2, "tempo")] == 500000


def test_window_musicxml_keeps_the_piece_measure_numbers():
    xml = window_musicxml(_files(), 3, 4).decode()
    assert '<measure implicit="no" number="3">' in xml or 'number="3"' in xml
    assert 'number="1"' not in xml and 'number="4"' in xml
    assert "<fifths>-1</fifths>" in xml and "<beats>3</beats>" in xml
    whole = window_musicxml(_files(), None, None).decode()
    assert 'number="1"' in whole and whole.count("<measure ") == 4
