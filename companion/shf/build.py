"""Building the SHF bundle of a rendered composition version."""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from ..algorithms.instruments import Instrument, load_instruments
from ..algorithms.registry import source_files
from ..compositions.model import Composition
from ..storage.base import ObjectStore
from .writer import BundleInput, flac, write_bundle


def bundle_input(files: dict[str, bytes], render_manifest: dict, master_wav: Path, work: Path,
                 stems: dict[str, Path] | None = None, instruments: dict[str, Instrument] | None = None,
                 composition_ref: dict | None = None, musicxml: bool = True) -> BundleInput:
    comp = Composition.from_files(files)
    comp.parse_all()
    instruments = instruments or load_instruments()
    gen = comp.meta_extra.get("generation")
    if gen is not None:
        gen = {**gen, "measures": comp.measures, "title": comp.title}
    inp = BundleInput(title=comp.title or "Untitled", composition=composition_ref or {}, generation=gen,
                      render={k: render_manifest.get(k) for k in ("key", "settings", "engines", "duration", "measures",
                                                                  "render_version", "composition_digest",
                                                                  "instruments_digest")}
                      | {"loudness_lufs": (render_manifest.get("mixdown") or {}).get("loudness_lufs"),
                         "master_sha256_wav": (render_manifest.get("mixdown") or {}).get("sha256")})
    inp.add("audio/master.flac", flac(master_wav, work / "master.flac"))
    for part, path in sorted((stems or {}).items()):
        inp.add(f"audio/stems/{part}.flac", flac(path, work / f"stem-{part}.flac"))
    for name, data in sorted(files.items()):
        inp.add(f"composition/{name}", data)
    from ..compositions.midi import write_midi
    inp.add("score/score.mid", write_midi(comp))
    if musicxml:
        try:
            from ..compositions.musicxml import write_musicxml
            inp.add("score/score.musicxml", write_musicxml(comp))
        except Exception:  # MusicXML is a convenience copy; the canonical files are authoritative
            pass
    for name, data in source_files().items():
        inp.add(f"algorithms/{name}", data)
    for inst in sorted(instruments.values(), key=lambda i: i.id):
        inp.add(f"instruments/{inst.id}.toml", inst.source.encode())
    inp.add("render/settings.json", (json.dumps(render_manifest.get("settings") or {}, indent=2, sort_keys=True)
                                     + "\n").encode())
    return inp


def build_from_store(store: ObjectStore, files: dict[str, bytes], render_manifest: dict, out: Path, private,
                     work_dir: Path, include_stems: bool = False, composition_ref: dict | None = None,
                     musicxml: bool = True) -> Path:
    """Write the SHF of a render (its manifest as :func:`companion.render.service.render_version` returns)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="shf-", dir=work_dir))
    try:
        def local(key: str, name: str) -> Path:
            p = store.local_path(key)
            if p is None:
                p = work / name
                store.download(key, p)
            return Path(p)

        master = local(render_manifest["mixdown"]["key"], "mixdown.wav")
        stems = {}
        if include_stems:
            for s in render_manifest.get("stems", []):
                if s.get("key"):
                    stems[s["part"]] = local(s["key"], f"{s['part']}.wav")
        inp = bundle_input(files, render_manifest, master, work, stems, composition_ref=composition_ref,
                           musicxml=musicxml)
        return write_bundle(out, inp, private)
    finally:
        shutil.rmtree(work, ignore_errors=True)
