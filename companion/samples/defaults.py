"""The band's default instruments in the library: the General MIDI SoundFont they play through.

Until the library existed, every FluidSynth part rendered through /usr/share/sounds/sf2/FluidR3_GM.sf2
(Debian's fluid-soundfont-gm) named by path. :func:`migrate_defaults` (run by ``scripthammer migrate``,
``seed`` and ``up``, or ``scripthammer samples migrate-defaults``) adds that font to the library as the
``normal/fluidr3-gm`` SoundFont of every instrument that plays notes, in one commit by ``setup``,
with its licence (MIT) and source. It is stored once (content-addressed; hard-linked into a local
store rather than copied) and the instrument files name it by its sha256 and version 1. Idempotent.
"""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from . import service as S
from .formats import Limits, inspect_file
from .library import file_digest
from .models import Sample

FONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
FONT_SHA256 = "74594e8f4250680adf590507a306655a299935343583256f3b722c48a1bc1cb0"
NAME = "fluidr3-gm"
LICENCE = "MIT"
SOURCE = "FluidR3_GM.sf2 by Frank Wen and contributors, from Debian's fluid-soundfont-gm package"
MESSAGE = "the band's default instruments move into the library: FluidR3_GM.sf2 for every instrument that plays"


def playing_instruments() -> list:
    return [i for i in sorted(S.instruments().values(), key=lambda i: i.id) if i.polyphony > 0]


def migrate_defaults(svc, progress: S.Progress | None = None, font: Path = FONT) -> dict:
    """Add the default SoundFont for each instrument that has none of that name yet; the commit (or None)."""
    insts = playing_instruments()
    with svc.db.session() as s:
        have = set(s.scalars(sa.select(Sample.instrument).where(Sample.articulation == S.NORMAL,
                                                                 Sample.name == NAME)))
    todo = [i for i in insts if i.id not in have]
    if not todo:
        return {"commit": None, "instruments": []}
    if not font.is_file():
        raise S.InvalidInput(f"{font} is missing: apt-get install fluid-soundfont-gm", code="default_font_missing")
    info = inspect_file(font, font.name, Limits(max_bytes=max(font.stat().st_size, Limits().max_bytes)))
    sha = file_digest(font)
    items = [(inst, S.Prepared(font, info, sha, S.SampleMeta(name=NAME, licence=LICENCE, source=SOURCE,
                                                               root=60, low=0, high=127).checked(inst),
                                {"original_filename": font.name}))
             for inst in todo]
    actor = S.Actor("setup", "leader")

    def write(s):
        out = []
        for inst, it in items:
            row = Sample(instrument=inst.id, articulation=S.NORMAL, name=NAME, kind="soundfont", state="active",
                         version=1, created_by=actor.id)
            s.add(row)
            s.flush()
            ver = S._version_row(row, 1, it, actor)
            s.add(ver)
            out.append((row, ver, "add"))
        return out

    commit = S.store_and_commit(svc, actor, MESSAGE, [it for _, it in items][:1], write, progress, link=True)
    return {"commit": commit, "instruments": [i.id for i in todo]}
