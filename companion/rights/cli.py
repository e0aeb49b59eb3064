"""`scripthammer rights ...`: the watermark detector and the ownership log from the command line."""
from __future__ import annotations

import json
from pathlib import Path

import click

from companion.clictx import services as _services
from companion.errors import ScriptHammerError


@click.group("rights")
def rights():
    """Watermarks, the ownership log and algorithm licences."""


@rights.command("detect")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def detect_cmd(file: Path):
    """Search FILE (any audio file or clip) for a delivery mark: the delivery as JSON, or "no mark".
    Exit status 0 when a delivery is found, 1 when there is no mark, 2 when the file is not audio."""
    from companion.rights import service

    svc = _services()
    try:
        out = service.detect(svc, file)
    except ScriptHammerError as exc:
        click.echo(json.dumps({"error": exc.code, "message": exc.message}), err=True)
        raise SystemExit(2) from exc
    click.echo(json.dumps(out, indent=2))
    raise SystemExit(0 if out["found"] else 1)


@rights.command("trace")
@click.option("--track", "track_id", type=int, required=True, help="The premium track the capture is of.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def trace_cmd(track_id: int, file: Path):
    """Whose stream FILE (a capture of a premium track's HLS stream, a few minutes) is: the listener as
    JSON. Exit status 0 when a listener is named, 1 when none matches, 2 on bad input."""
    from companion.rights import service

    svc = _services()
    try:
        out = service.trace_stream(svc, track_id, file)
    except ScriptHammerError as exc:
        click.echo(json.dumps({"error": exc.code, "message": exc.message}), err=True)
        raise SystemExit(2) from exc
    click.echo(json.dumps(out, indent=2))
    raise SystemExit(0 if out["found"] else 1)


@rights.command("export-log")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--key", "key_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the band's public key (PEM) here, for the offline verifier.")
def export_cmd(out: Path, key_out: Path | None):
    """Write the whole ownership log with its latest signed head (verifier/scripthammer_verify.py log OUT)."""
    from companion.rights import service

    svc = _services()
    with svc.db.session() as s:
        doc = service.export(s)
    out.write_text(json.dumps(doc, indent=1))
    if key_out:
        key_out.write_text(service.public_key_pem(svc.config))
    click.echo(f"{len(doc['entries'])} entries -> {out}")


@rights.command("credits")
@click.argument("composition")
@click.option("--rev", default=None, help="Branch, tag or commit (default: main).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--notes", is_flag=True, help="With --format json: every note's provenance.")
def credits_cmd(composition: str, rev: str | None, fmt: str, notes: bool):
    """Print COMPOSITION's split sheet: each writer's share by sounding duration (docs/rights.md)."""
    from companion.compositions.store import Store
    from companion.rights import credits

    svc = _services()
    try:
        c = credits.compute(Store(svc.config.compositions_dir), svc.band, composition, rev, with_notes=notes)
        with svc.db.session() as s:
            iswc = credits.codes_of(s, composition)["iswc"]
    except ScriptHammerError as exc:
        click.echo(json.dumps({"error": exc.code, "message": exc.message}), err=True)
        raise SystemExit(2) from exc
    if fmt == "json":
        click.echo(json.dumps({**c, "iswc": iswc}, indent=2))
    elif fmt == "csv":
        click.echo(credits.split_csv(c, iswc), nl=False)
    else:
        click.echo(f"{c['title']} ({composition}) version {c['version']['short']}"
                   + (f", ISWC {iswc}" if iswc else "") + f": {c['notes']} notes, {c['total_weight']} quarter notes")
        for row in credits.split_rows(c, iswc):
            click.echo(f"  {row['name']:<10} {row['share_percent']:>6}%  hand {row['hand_quarters']:>8}  "
                       f"generated {row['generated_quarters']:>8}  {row['algorithms']}")


@rights.command("licences")
@click.option("--owner", help="Only this owner's (wp:<WordPress user id>).")
def licences_cmd(owner: str | None):
    """Every algorithm licence (or one owner's), one JSON object a line."""
    from companion.rights import licence_store

    svc = _services()
    with svc.db.session() as s:
        for row in licence_store.listing(s, owner):
            click.echo(json.dumps(licence_store.out(row)))


@rights.command("revoke-licence")
@click.argument("licence_id")
@click.option("--reason", default="", help="Why (kept with the licence).")
def revoke_licence_cmd(licence_id: str, reason: str):
    """Revoke a licence: it is on the signed revocation list from now on. Exit 1 when there is no such
    licence or it is already revoked."""
    from companion.rights import licence_store

    svc = _services()
    try:
        with svc.db.session() as s:
            licence_store.revoke(s, licence_id, by="cli", reason=reason)
    except ScriptHammerError as exc:
        click.echo(json.dumps({"error": exc.code, "message": exc.message}), err=True)
        raise SystemExit(1) from exc
    click.echo(f"licence {licence_id} revoked")


@rights.command("licence-package")
@click.argument("licence_id")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def licence_package_cmd(licence_id: str, out: Path):
    """Write a licence's package (the zip its owner downloads) to OUT."""
    from companion.rights import licence_store, package, service

    svc = _services()
    try:
        with svc.db.session() as s:
            doc = licence_store.get(s, licence_id).document
    except ScriptHammerError as exc:
        click.echo(json.dumps({"error": exc.code, "message": exc.message}), err=True)
        raise SystemExit(1) from exc
    out.write_bytes(package.build(doc, public_key_pem=service.public_key_pem(svc.config)))
    click.echo(f"{out}: run it with python run.py --seed N --measures M --out piece.mid")


@rights.command("revocations")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def revocations_cmd(out: Path):
    """Write the current signed revocation list (run.py --revocations OUT)."""
    from companion.rights import licence_store

    svc = _services()
    with svc.db.session() as s:
        doc = licence_store.revocation_list(s, svc.config)
    out.write_text(json.dumps(doc, indent=1))
    click.echo(f"{len(doc['revocations']['revoked'])} revoked -> {out}")
