"""`scripthammer generate`: the band writes a piece on a new branch from a shell (one commit per
member, here and now); with ``--render`` the piece is also rendered (a render job, as
`scripthammer render` makes) and with ``--publish`` made a track through the release pipeline with
an SHF download. The render runs here unless ``--queue`` is given.
"""
from __future__ import annotations

import json
import sys

import click

RENDER_FUNC = "jobs.render.render_job"


@click.command("generate")
@click.option("--title", default="", help="title of a new composition")
@click.option("--composition", "comp_id", default=None, help="an existing composition to generate into")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--measures", default=None, type=int, help="length (default 32, or the composition's)")
@click.option("--member", "members", multiple=True, help="only these members (default: the whole band)")
@click.option("--mood", default="cosmic", show_default=True)
@click.option("--density", default=0.5, show_default=True, type=float)
@click.option("--tempo-feel", default="straight", show_default=True)
@click.option("--key", "key_", default="D minor", show_default=True)
@click.option("--tempo", default=104, show_default=True, type=int)
@click.option("--lyrics", default="", help="lyrics for Verse (lines separated by '/')")
@click.option("--as", "as_member", default=None, help="who asks (default: the band's leader)")
@click.option("--render", "do_render", is_flag=True, help="render it too (each instrument's engine)")
@click.option("--publish", is_flag=True, help="render and publish as a track with an SHF download")
@click.option("--queue", is_flag=True, help="queue the render on RQ instead of running it here")
def generate_cmd(title, comp_id, seed, measures, members, mood, density, tempo_feel, key_, tempo, lyrics, as_member,
                 do_render, publish, queue):
    """Generate a piece with the band on a new branch (each member commits their part)."""
    from ..algorithms.base import Params
    from ..algorithms.generate import generate
    from ..compositions.rights import member_actor
    from ..compositions.store import Store
    from ..errors import ScriptHammerError

    from .. import clictx

    svc = clictx.services()
    band = svc.band
    who = as_member or band.leader
    try:
        params = Params.from_dict({"mood": mood, "density": density, "tempo_feel": tempo_feel, "key": key_,
                                   "tempo": tempo, "lyrics": lyrics})
        res = generate(Store(svc.config.compositions_dir), band, member_actor(band, who), comp_id=comp_id,
                       title=title, seed=seed, params=params, measures=measures, members=list(members) or None)
        if do_render or publish:
            job_id = clictx.queue_job(svc, "render", {"composition": res["composition"], "commit": res["head"],
                                                      "settings": {}, "publish": publish,
                                                      "title": title or res["composition"], "stems": False},
                                      RENDER_FUNC, who, inline=not queue)
            res["render"] = clictx.job_summary(svc, job_id)
    except (ScriptHammerError, ValueError, KeyError) as exc:
        click.echo(json.dumps(getattr(exc, "to_dict", lambda: {"message": str(exc)})()), err=True)
        sys.exit(1)
    click.echo(json.dumps(res, indent=2, default=str))
