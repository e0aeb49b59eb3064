"""`scripthammer compositions ...`: the common composition commands from a shell.

The lead adds this group to the main CLI (``main.add_command(compositions)``). Commands act
as a band member (``--as ivory``, default: the band's leader) with that member's rights.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from . import service as S
from .rights import member_actor
from .store import MAIN, Store


def _ctx(as_member: str | None):
    from ..band.roster import load_band
    from ..config import Config

    config = Config.from_env()
    band = load_band(config.band_file)
    member = as_member or band.leader
    if member not in band.members:
        raise click.BadParameter(f"no band member {member!r}", param_hint="--as")
    from .shared import store_for

    return store_for(config), band, member_actor(band, member)


def _run(fn):
    from ..errors import ScriptHammerError
    try:
        return fn()
    except ScriptHammerError as exc:
        click.echo(json.dumps(exc.to_dict(), indent=2), err=True)
        sys.exit(1)


as_option = click.option("--as", "as_member", default=None, help="band member id to act as (default: the leader)")


@click.group("compositions")
def compositions() -> None:
    """Compositions under version control."""


@compositions.command("list")
@as_option
def list_cmd(as_member):
    """List compositions."""
    store, band, who = _ctx(as_member)
    for c in _run(lambda: S.list_compositions(store, band, who)):
        click.echo(f"{c['id']}\t{c['title']}\t{c['visibility']}\t{c['head'][:10]}\t{', '.join(c['parts'])}")


@compositions.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--id", "comp_id", default=None)
@click.option("--title", default="")
@click.option("--branch", default=MAIN)
@click.option("--parent", default=None, help="for an existing composition: the head this import replaces")
@click.option("-m", "--message", default="")
@as_option
def import_cmd(path, comp_id, title, branch, parent, message, as_member):
    """Import a MIDI or MusicXML file (new composition, or a new version of --id)."""
    store, band, who = _ctx(as_member)
    r = _run(lambda: S.import_file(store, band, who, path.read_bytes(), None, path.name, comp_id=comp_id,
                                   title=title, branch=branch, parent=parent, message=message))
    click.echo(json.dumps(r))


@compositions.command("export")
@click.argument("comp_id")
@click.option("--rev", default=MAIN)
@click.option("--format", "fmt", type=click.Choice(list(S.FORMATS)), default="midi")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@as_option
def export_cmd(comp_id, rev, fmt, output, as_member):
    """Export a version as MIDI, MusicXML or canonical zip."""
    store, band, who = _ctx(as_member)
    data, _, name = _run(lambda: S.export(store, band, who, comp_id, rev, fmt))
    out = output or Path(name)
    out.write_bytes(data)
    click.echo(str(out))


@compositions.command("log")
@click.argument("comp_id")
@click.option("--rev", default=MAIN)
@click.option("--part", default=None)
@click.option("--measure", type=int, default=None)
@click.option("--limit", type=int, default=50)
@as_option
def log_cmd(comp_id, rev, part, measure, limit, as_member):
    """History of a composition, a part, or one measure of a part."""
    store, band, who = _ctx(as_member)
    for c in _run(lambda: S.history(store, band, who, comp_id, rev, part, measure, limit)):
        line = f"{c['short']}  {c['author']:<12} {c['message'].splitlines()[0] if c['message'] else ''}"
        if "measure" in c:
            line += f"\n    before: {c['measure']['before']}\n    after:  {c['measure']['after']}"
        click.echo(line)


@compositions.command("diff")
@click.argument("comp_id")
@click.argument("a")
@click.argument("b", default=MAIN)
@click.option("--json", "as_json", is_flag=True)
@as_option
def diff_cmd(comp_id, a, b, as_json, as_member):
    """Musical diff between two versions (branch, tag or commit)."""
    store, band, who = _ctx(as_member)
    d = _run(lambda: S.diff(store, band, who, comp_id, a, b))
    click.echo(json.dumps(d, indent=2) if as_json else S.diff_text(d), nl=as_json)


@compositions.command("branch")
@click.argument("comp_id")
@click.argument("name", required=False)
@click.option("--from", "start", default=MAIN)
@click.option("-d", "--delete", is_flag=True)
@as_option
def branch_cmd(comp_id, name, start, delete, as_member):
    """List branches, create NAME (from --from), or delete NAME (-d)."""
    store, band, who = _ctx(as_member)
    if name is None:
        for b in _run(lambda: S.list_branches(store, band, who, comp_id)):
            click.echo(f"{b['name']}\t{b['head'][:10]}")
    elif delete:
        _run(lambda: S.delete_branch(store, band, who, comp_id, name))
    else:
        click.echo(json.dumps(_run(lambda: S.create_branch(store, band, who, comp_id, name, start))))


@compositions.command("tag")
@click.argument("comp_id")
@click.argument("name", required=False)
@click.option("--rev", default=MAIN)
@click.option("-m", "--message", default="")
@as_option
def tag_cmd(comp_id, name, rev, message, as_member):
    """List tags or tag a version."""
    store, band, who = _ctx(as_member)
    if name is None:
        for t in _run(lambda: S.list_tags(store, band, who, comp_id)):
            click.echo(f"{t['name']}\t{t['commit'][:10]}\t{t['message']}")
    else:
        click.echo(json.dumps(_run(lambda: S.create_tag(store, band, who, comp_id, name, rev, message))))


@compositions.command("merge")
@click.argument("comp_id")
@click.argument("source")
@click.option("--into", "target", default=MAIN)
@click.option("--preview", is_flag=True, help="show conflicts without merging")
@click.option("--resolve", "resolutions", multiple=True, help="CONFLICT_ID=ours|theirs (repeatable)")
@click.option("--resolutions-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help='JSON {"<conflict id>": "ours" | "theirs" | {"notes": [...]}}')
@click.option("-m", "--message", default="")
@as_option
def merge_cmd(comp_id, source, target, preview, resolutions, resolutions_file, message, as_member):
    """Merge SOURCE into --into (main), resolving conflicts with --resolve."""
    store, band, who = _ctx(as_member)
    res = json.loads(resolutions_file.read_text()) if resolutions_file else {}
    for r in resolutions:
        cid, _, choice = r.rpartition("=")
        res[cid] = choice
    if preview:
        click.echo(json.dumps(_run(lambda: S.merge_preview(store, band, who, comp_id, source, target, res)), indent=2))
    else:
        click.echo(json.dumps(_run(lambda: S.merge(store, band, who, comp_id, source, target, res, message))))


@compositions.command("migrate")
@click.argument("comp_ids", nargs=-1)
@click.option("--branch", "branches", multiple=True, help="only these branches (default: every branch)")
@click.option("--dry-run", is_flag=True, help="say what would be upgraded, write nothing")
@as_option
def migrate_cmd(comp_ids, branches, dry_run, as_member):
    """Upgrade compositions (default: all) to the current format version: one commit per branch
    whose head is older, changing the format version and headers and not one note. Reading old
    versions keeps working without this, and every write upgrades on its own."""
    store, band, who = _ctx(as_member)
    ids = list(comp_ids) or store.ids()
    done = []
    with click.progressbar(ids, label="Upgrading compositions", file=sys.stderr) as bar:
        for cid in bar:
            done += _run(lambda cid=cid: S.migrate(store, band, who, cid, list(branches) or None, dry_run))
    for item in done:
        if item["from_version"] == item["to_version"]:
            state = "current"
        elif dry_run:
            state = f"would upgrade v{item['from_version']} -> v{item['to_version']}"
        else:
            state = f"upgraded v{item['from_version']} -> v{item['to_version']} in {item['commit'][:10]}"
        click.echo(f"{item['composition']}\t{item['branch']}\t{state}")


@compositions.command("share")
def share_cmd():
    """Copy this machine's compositions (the local store's repositories in SCRIPTHAMMER_COMPOSITIONS_DIR)
    into the shared store (objects to the object store, refs to the database). Run it once, with
    SCRIPTHAMMER_COMPOSITION_STORE=shared, before starting shared companions; running it again changes nothing."""
    from ..config import Config
    from .shared import share_local, store_for

    config = Config.from_env()
    if config.composition_store != "shared":
        raise click.UsageError("set SCRIPTHAMMER_COMPOSITION_STORE=shared (and the database and object store "
                               "the machines share) first")
    shared = store_for(config)
    report = _run(lambda: share_local(Store(config.compositions_dir, local=True), shared))
    click.echo(json.dumps(report, indent=2))
    if any(r["conflicts"] for r in report):
        sys.exit(2)
