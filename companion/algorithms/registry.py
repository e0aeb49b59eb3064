"""Which algorithm plays which instrument, and the order the band writes in."""
from __future__ import annotations

from pathlib import Path

from .base import Algorithm
from .members.chops import Chops
from .members.crash import CrashBass, CrashDrums
from .members.form import Form
from .members.horns import Brass, Reed
from .members.ivory import IvoryKeys, IvorySynth
from .members.verse import Verse

ALGORITHMS_VERSION = "1.0"

# instrument id -> algorithm
BY_INSTRUMENT: dict[str, type[Algorithm]] = {
    "form-console": Form, "chops-guitar": Chops, "crash-drums": CrashDrums, "crash-bass": CrashBass,
    "ivory-keys": IvoryKeys, "ivory-synth": IvorySynth, "reed-alto-sax": Reed, "brass-trumpet": Brass,
    "verse-vocoder": Verse,
}

# the order members write in: harmony first (the others follow the changes), Form's mix last
WRITING_ORDER = ("chops", "crash", "ivory", "reed", "brass", "verse", "form")
MEMBERS = ("ivory", "crash", "chops", "reed", "brass", "verse", "form")


def algorithm_for(instrument_id: str) -> Algorithm:
    try:
        return BY_INSTRUMENT[instrument_id]()
    except KeyError:
        raise KeyError(f"no algorithm plays instrument {instrument_id!r}") from None


def source_files() -> dict[str, bytes]:
    """The algorithm scripts as files (``algorithms/<path>``), as bundled into an SHF file."""
    root = Path(__file__).parent
    out = {}
    for p in sorted(root.rglob("*.py")):
        rel = p.relative_to(root).as_posix()
        if "__pycache__" in rel or rel.endswith(("api.py", "cli.py")):
            continue
        out[rel] = p.read_bytes()
    return out

