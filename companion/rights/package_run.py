#!/usr/bin/env python3
"""Generate music with a licensed ScriptHammer member's algorithm, after checking the licence offline.

    python run.py --seed 7 --measures 16 --out piece.mid [--use commercial] [--revocations LIST.json]

This file is the ``run.py`` of an algorithm package (companion/rights/package.py builds the zip): it
runs from the unzipped folder, next to licence.json, band.pub, scripthammer_verify.py, package.json
and the vendored ``shlocal`` package. Exit 0: the MIDI file is written; 1: the licence is refused
(nothing written); 2: bad arguments.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def refuse(message: str) -> int:
    print(f"licence refused: {message}", file=sys.stderr)
    return 1


def check_licence(use: str, revocations_path: str | None, manifest: dict) -> tuple[int, dict | None]:
    import scripthammer_verify as verify

    try:
        key = verify.load_key(os.path.join(HERE, "band.pub"))
        with open(os.path.join(HERE, "licence.json"), encoding="utf-8") as fh:
            doc = json.load(fh)
        revocations = None
        if revocations_path:
            with open(revocations_path, encoding="utf-8") as fh:
                revocations = json.load(fh)
        verify.verify_licence(doc, key, revocations, use, None)  # the term at this machine's clock
    except verify.VerifyError as exc:
        return refuse(str(exc)), None
    except (OSError, ValueError) as exc:
        return refuse(f"cannot read the licence or the revocation list ({exc})"), None
    lic = doc["licence"]
    if lic.get("member") != manifest["member"] or lic.get("id") != manifest["licence"]:
        return refuse("this licence is not the one this package was made for"), None
    return 0, lic


def generate(manifest: dict, seed: int, measures: int, params: dict) -> bytes:
    pkg = manifest["package"]
    base = importlib.import_module(f"{pkg}.algorithms.base")
    instruments_mod = importlib.import_module(f"{pkg}.algorithms.instruments")
    form = importlib.import_module(f"{pkg}.algorithms.members.form")
    model = importlib.import_module(f"{pkg}.compositions.model")
    midi = importlib.import_module(f"{pkg}.compositions.midi")
    registry = {}
    for mod_name in manifest["modules"]:
        if ".algorithms.members." in mod_name:
            mod = importlib.import_module(mod_name)
            registry.update({k: v for k, v in vars(mod).items() if isinstance(v, type)})
    p = base.Params.from_dict(params)
    comp = model.Composition(title=f"{manifest['algorithm']} seed {seed}")
    comp.measures = measures
    # the licensed member takes the solo sections (the band's arranger is not in the package)
    sections = [dataclasses.replace(s, feature=manifest["member"]) if s.kind == "solo" else s
                for s in form.layout(measures, seed, p)]
    comp.global_events = list(form.global_events(sections, p))
    instruments = instruments_mod.load_instruments()
    for inst_id, cls_name in manifest["instruments"].items():
        inst = instruments[inst_id]
        comp.parts.append(model.Part(id=inst.part, name=inst.name, instrument=inst.name,
                                     program=None if inst.percussion else inst.program, channel=inst.channel,
                                     kind=inst.part_kind, owner=inst.member))
        alg = registry[cls_name]()
        for m in range(1, measures + 1):
            comp.set_events(inst.part, m, [])
        for sec in sections:
            req = base.Request(composition=comp, section=sec, seed=seed, params=p, instrument=inst, sections=sections)
            for m, events in alg.generate(req).measures.items():
                if sec.start <= m <= sec.end:
                    comp.set_events(inst.part, m, events)
    return midi.write_midi(comp)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Generate music locally with a licensed ScriptHammer algorithm.")
    ap.add_argument("--seed", type=int, required=True, help="the seed: the same seed gives the same piece")
    ap.add_argument("--measures", type=int, default=16, help="how many measures (4 to 512)")
    ap.add_argument("--out", required=True, help="the MIDI file to write")
    ap.add_argument("--use", choices=("non-commercial", "commercial"), default="non-commercial",
                    help="the intended use: a non-commercial licence refuses commercial use")
    ap.add_argument("--revocations", help="the band's signed revocation list (JSON), checked when given")
    ap.add_argument("--mood", default="cosmic")
    ap.add_argument("--key", default="D minor")
    ap.add_argument("--tempo", type=int, default=104)
    ap.add_argument("--density", type=float, default=0.5)
    args = ap.parse_args(argv)
    if not 4 <= args.measures <= 512 or not 0 <= args.seed < 2 ** 63:
        ap.error("--measures is 4 to 512 and --seed 0 or more")
    sys.path.insert(0, HERE)
    with open(os.path.join(HERE, "package.json"), encoding="utf-8") as fh:
        manifest = json.load(fh)
    code, lic = check_licence(args.use, args.revocations, manifest)
    if code:
        return code
    try:
        data = generate(manifest, args.seed, args.measures, {"mood": args.mood, "key": args.key, "tempo": args.tempo,
                                                           "density": args.density})
    except ValueError as exc:
        print(f"cannot generate: {exc}", file=sys.stderr)
        return 2
    with open(args.out, "wb") as fh:
        fh.write(data)
    print(f"{args.out}: {args.measures} measures by {lic['algorithm']} ({lic['member']}), seed {args.seed}, "
          f"licence {lic['id']} ({lic['tier']}) for {lic['licensee']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
