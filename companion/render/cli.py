"""`scripthammer render`: a composition version's stems, mixdown and SHF from a shell (cached by
content), optionally released as a track with the SHF as a download. Runs here unless ``--queue``."""
from __future__ import annotations

import json
import sys

import click

RENDER_FUNC = "jobs.render.render_job"


@click.command("render")
@click.argument("composition")
@click.option("--rev", default="main", show_default=True)
@click.option("--engine", default="auto", show_default=True, type=click.Choice(["auto", "fluidsynth", "supercollider"]))
@click.option("--publish", is_flag=True)
@click.option("--title", default="")
@click.option("--stems", is_flag=True, help="include stems in the SHF")
@click.option("--as", "as_member", default=None)
@click.option("--queue", is_flag=True, help="queue the render on RQ instead of running it here")
def render_cmd(composition, rev, engine, publish, title, stems, as_member, queue):
    """Render a composition version (stems, mixdown, SHF; cached by content)."""
    from .. import clictx
    from ..compositions import service as S
    from ..compositions.rights import member_actor
    from ..compositions.store import Store
    from ..errors import ScriptHammerError

    svc = clictx.services()
    band = svc.band
    who = as_member or band.leader
    store = Store(svc.config.compositions_dir)
    try:
        S.get_composition(store, band, member_actor(band, who), composition, rev=rev)  # read rights
        commit = str(store.resolve(store.repo(composition), rev).id)
        job_id = clictx.queue_job(svc, "render", {"composition": composition, "commit": commit,
                                                  "settings": {"engine": engine}, "publish": publish,
                                                  "title": title or composition, "stems": stems},
                                  RENDER_FUNC, who, inline=not queue)
    except ScriptHammerError as exc:
        click.echo(json.dumps(exc.to_dict()), err=True)
        sys.exit(1)
    click.echo(json.dumps(clictx.job_summary(svc, job_id), indent=2, default=str))
