"""`scripthammer generate` and `scripthammer render`: the band and the renderer from a shell.

``generate`` writes a piece on a new branch (one commit per member); with ``--render`` it also
renders it (both engines, per instrument) and with ``--publish`` makes it a track through the
release pipeline with an SHF download. Jobs run inline unless ``--queue`` is given.
"""
from __future__ import annotations

import json
import sys

import click


def _svc():
    from ..cli import _services  # the main CLI's: configured from the environment, shared with inline jobs

    return _services()


def _run_inline(svc, job_id: str, func: str) -> None:
    import importlib
    mod, name = func.rsplit(".", 1)
    getattr(importlib.import_module(mod), name)(job_id)


def _queue_render(svc, comp: str, commit: str, settings: dict, publish: bool, title: str, stems: bool,
                  who: str, inline: bool) -> dict:
    from ..tasks.models import Job
    from ..tasks.service import create_job

    with svc.db.session() as s:
        job = create_job(s, kind="render", created_by=who, params={"composition": comp, "commit": commit,
                                                                   "settings": settings, "publish": publish,
                                                                   "title": title, "stems": stems})
        s.flush()
        job_id = job.id
    if not inline:
        from ..tasks.service import submit
        submit(svc, job, "jobs.render.render_job")
    if inline:
        _run_inline(svc, job_id, "jobs.render.render_job")
        if publish:  # the release job and the SHF attachment, inline too
            with svc.db.session() as s:
                res = dict(s.get(Job, job_id).result or {})
            if res.get("release_job"):
                _run_inline(svc, res["release_job"], "jobs.release.release_track")
                from jobs.render import attach_shf_job
                attach_shf_job(res["track_id"], res["shf"]["key"], res["shf"]["size"], res["shf"]["sha256"],
                               res.get("duration"))
    with svc.db.session() as s:
        job = s.get(Job, job_id)
        return {"job": job_id, "state": job.state, "error": job.error_message, "result": job.result}


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

    svc = _svc()
    band = svc.band
    who = as_member or band.leader
    try:
        params = Params.from_dict({"mood": mood, "density": density, "tempo_feel": tempo_feel, "key": key_,
                                   "tempo": tempo, "lyrics": lyrics})
        res = generate(Store(svc.config.compositions_dir), band, member_actor(band, who), comp_id=comp_id,
                       title=title, seed=seed, params=params, measures=measures, members=list(members) or None)
        if do_render or publish:
            res["render"] = _queue_render(svc, res["composition"], res["head"], {}, publish, title or res["composition"],
                                          False, who, inline=not queue)
    except (ScriptHammerError, ValueError, KeyError) as exc:
        click.echo(json.dumps(getattr(exc, "to_dict", lambda: {"message": str(exc)})()), err=True)
        sys.exit(1)
    click.echo(json.dumps(res, indent=2, default=str))


@click.command("render")
@click.argument("composition")
@click.option("--rev", default="main", show_default=True)
@click.option("--engine", default="auto", show_default=True, type=click.Choice(["auto", "fluidsynth", "supercollider"]))
@click.option("--publish", is_flag=True)
@click.option("--title", default="")
@click.option("--stems", is_flag=True, help="include stems in the SHF")
@click.option("--as", "as_member", default=None)
@click.option("--queue", is_flag=True)
def render_cmd(composition, rev, engine, publish, title, stems, as_member, queue):
    """Render a composition version (stems, mixdown, SHF; cached by content)."""
    from ..compositions import service as S
    from ..compositions.rights import member_actor
    from ..compositions.store import Store
    from ..errors import ScriptHammerError

    svc = _svc()
    band = svc.band
    who = as_member or band.leader
    store = Store(svc.config.compositions_dir)
    try:
        S.get_composition(store, band, member_actor(band, who), composition, rev=rev)
        commit = str(store.resolve(store.repo(composition), rev).id)
        res = _queue_render(svc, composition, commit, {"engine": engine}, publish, title or composition, stems, who,
                            inline=not queue)
    except ScriptHammerError as exc:
        click.echo(json.dumps(exc.to_dict()), err=True)
        sys.exit(1)
    click.echo(json.dumps(res, indent=2, default=str))
