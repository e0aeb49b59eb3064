"""`scripthammer samples ...`: the sample library from a shell.

Commands that change the library act as a band member (``--as crash``; default: the band's
leader) with that member's rights: an instrument's samples are its member's and the leader's.
Long work (checking, slicing, storing, rendering an audition) shows a progress bar.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from tqdm import tqdm

from . import service as S


def _services():
    from companion.config import Config
    from companion.services import services_for

    return services_for(Config.from_env())


def _actor(svc, as_member: str | None) -> S.Actor:
    band = svc.band
    member = as_member or band.leader
    if member not in band.members:
        raise click.BadParameter(f"no band member {member!r}", param_hint="--as")
    return S.Actor(member, band.members[member].role)


def _run(fn):
    from companion.errors import ScriptHammerError

    try:
        return fn()
    except ScriptHammerError as exc:
        click.echo(json.dumps(exc.to_dict(), indent=2), err=True)
        sys.exit(1)


def _bar(desc: str):
    bar = tqdm(total=100, desc=desc, unit="%", file=sys.stderr, leave=False)

    def report(pct: int, stage: str) -> None:
        bar.n = pct
        bar.set_postfix_str(stage)
        bar.refresh()
    return bar, report


def _meta(articulation, name, licence, source, root, low, high) -> S.SampleMeta:
    return S.SampleMeta(articulation=articulation, name=name or "", licence=licence or "", source=source or "",
                        root=root, low=low, high=high)


as_option = click.option("--as", "as_member", default=None, help="band member to act as (default: the leader)")


def meta_options(fn):
    for opt in reversed([
        click.option("--instrument", required=True, help="instrument id (e.g. crash-drums)"),
        click.option("--articulation", default=S.NORMAL, show_default=True),
        click.option("--name", default=None, help="sample name (default: from the file name)"),
        click.option("--licence", default=None, help="required: e.g. CC0-1.0, CC-BY-4.0, 'own recording'"),
        click.option("--source", default=None, help="required: who recorded it or where it came from"),
        click.option("--root", default=None, help="MIDI key or pitch (C4) the sample sounds at"),
        click.option("--low", default=None, help="lowest key it plays"),
        click.option("--high", default=None, help="highest key it plays"),
        click.option("-m", "--message", default="", help="the commit message"),
        as_option,
    ]):
        fn = opt(fn)
    return fn


@click.group("samples")
def samples() -> None:
    """The sample library: samples and SoundFonts per instrument, with licences and history."""


@samples.command("add")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@meta_options
def add_cmd(files, instrument, articulation, name, licence, source, root, low, high, message, as_member):
    """Add WAV, AIFF, FLAC or SF2 files (one commit each)."""
    svc = _services()
    actor = _actor(svc, as_member)
    for f in tqdm(files, desc="files", unit="file", file=sys.stderr, disable=len(files) < 2):
        bar, report = _bar(f.name)
        with bar:
            res = _run(lambda: S.add(svc, actor, instrument, f, f.name,
                                     _meta(articulation, name if len(files) == 1 else None, licence, source, root,
                                           low, high), message, progress=report))
        for ch in res["changes"]:
            click.echo(f"{ch['action']}\t{ch['sample_id']}\t{ch['ref']}\tv{ch['version']}\t{ch['sha256'][:12]}")


@samples.command("slice")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@meta_options
@click.option("--at", "at", default="onsets", show_default=True,
              help="'onsets', or cut points in seconds: 0.5,1.25,2.0")
@click.option("--threshold-db", default=30.0, show_default=True, help="onsets: level below the peak that counts")
@click.option("--min-gap-ms", default=80.0, show_default=True, help="onsets: shortest time between two")
@click.option("--roots", default=None, help="one key per slice: 36,38,42 or C2,D2,F#2")
@click.option("--dry-run", is_flag=True, help="only print where the cuts would go")
def slice_cmd(file, instrument, articulation, name, licence, source, root, low, high, message, as_member, at,
              threshold_db, min_gap_ms, roots, dry_run):
    """Cut a long recording into samples (at its onsets or at given points) and add them in one commit."""
    points = None if at == "onsets" else [float(x) for x in at.split(",") if x.strip()]
    if dry_run:
        import soundfile

        from .slicing import cut_points, onsets

        info = soundfile.info(str(file))
        total, rate = info.frames, info.samplerate
        starts = _run(lambda: cut_points(total, rate, points)) if points else onsets(file, threshold_db,
                                                                                    min_gap_ms / 1000)[0]
        for i, a in enumerate(starts):
            b = starts[i + 1] if i + 1 < len(starts) else total
            click.echo(f"{i + 1}\t{a / rate:.4f}\t{b / rate:.4f}")
        return
    svc = _services()
    actor = _actor(svc, as_member)
    slicing = S.Slicing(points=points, threshold_db=threshold_db, min_gap_s=min_gap_ms / 1000,
                        roots=[r.strip() for r in roots.split(",")] if roots else None)
    bar, report = _bar(file.name)
    with bar:
        res = _run(lambda: S.add(svc, actor, instrument, file, file.name,
                                 _meta(articulation, name, licence, source, root, low, high), message, slicing,
                                 progress=report))
    for ch in res["changes"]:
        click.echo(f"{ch['action']}\t{ch['sample_id']}\t{ch['ref']}\tv{ch['version']}\t{ch['sha256'][:12]}")


@samples.command("list")
@click.option("--instrument", default=None)
@click.option("--articulation", default=None)
@click.option("--licence", default=None)
@click.option("--kind", type=click.Choice(["sample", "soundfont"]), default=None)
@click.option("--all", "show_all", is_flag=True, help="retired samples too")
@click.option("--json", "as_json", is_flag=True)
def list_cmd(instrument, articulation, licence, kind, show_all, as_json):
    """List the library's samples."""
    rows = S.list_samples(_services().db, instrument, articulation, licence, kind, "all" if show_all else "active")
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    for r in rows:
        c = r["current"]
        click.echo(f"{r['id']}\t{r['ref']}\t{r['kind']}\t{r['state']}\tv{r['version']}\t{c['format']}\t"
                   f"{c['duration']:.3f}s\t{c['licence']}\t{c['sha256'][:12]}")


@samples.command("history")
@click.option("--instrument", default=None)
@click.option("--sample", "sample_id", type=int, default=None)
@click.option("--limit", default=50, show_default=True)
@click.option("--verify", is_flag=True, help="check every commit's hash chain")
def history_cmd(instrument, sample_id, limit, verify):
    """The library's commits, newest first."""
    svc = _services()
    if verify:
        res = S.verify_history(svc.db)
        click.echo(f"{res['commits']} commits, " + ("hash chain intact" if res["ok"] else
                                                    f"BROKEN at commits {res['broken']}"))
        if not res["ok"]:
            sys.exit(1)
        return
    for c in S.history(svc.db, instrument, sample_id, limit):
        click.echo(f"{c['digest'][:12]}\t{c['created_at']:%Y-%m-%d %H:%M:%S}\t{c['author']}\t{c['message']}")
        for ch in c["changes"]:
            click.echo(f"    {ch['action']:8} {ch['ref']} v{ch['version']} {ch['sha256'][:12]}")


@samples.command("retire")
@click.argument("sample_id", type=int)
@click.option("-m", "--message", default="")
@as_option
def retire_cmd(sample_id, message, as_member):
    """Retire a sample (its versions stay for renders that name them)."""
    svc = _services()
    res = _run(lambda: S.retire(svc, _actor(svc, as_member), sample_id, message))
    click.echo(f"retired {res['changes'][0]['ref']} ({res['digest'][:12]})")


@samples.command("audition")
@click.argument("sample_id", type=int)
@click.option("--version", type=int, default=None)
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="where to write the WAV (default: <name>-audition.wav)")
def audition_cmd(sample_id, version, out):
    """Render a few seconds of a sample through its engine to a WAV file."""
    from .audition import audition

    svc = _services()
    with tqdm(total=2, desc="audition", unit="step", file=sys.stderr, leave=False) as bar:
        v = _run(lambda: S.get_version(svc.db, sample_id, version))
        bar.update()
        key = _run(lambda: audition(svc, v, S.get_instrument(v["sample"]["instrument"])))
        bar.update()
    out = out or Path(f"{v['sample']['name']}-audition.wav")
    out.write_bytes(svc.store.get_bytes(key))
    click.echo(str(out))


@samples.command("migrate-defaults")
def migrate_defaults_cmd():
    """Put the band's default SoundFont in the library for every instrument (idempotent)."""
    from .defaults import migrate_defaults

    svc = _services()
    bar, report = _bar("default instruments")
    with bar:
        res = _run(lambda: migrate_defaults(svc, report))
    if res["commit"] is None:
        click.echo("the band's default instruments are in the library already")
    else:
        click.echo(f"added the default SoundFont for {', '.join(res['instruments'])} ({res['commit']['digest'][:12]})")


@samples.command("check-instruments")
def check_instruments_cmd():
    """Check that every sample the instrument files name is in the library at that version and hash."""
    problems = S.check_instruments(_services().db)
    for p in problems:
        click.echo(f"{p['instrument']}\t{p['ref']} v{p['version']} {p['sha256'][:12]}\t{p['problem']}")
    if problems:
        sys.exit(1)
    click.echo("every sample the instrument files name is in the library at that version and hash")
