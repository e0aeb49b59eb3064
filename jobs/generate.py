"""The generate job: the band writes a piece on a new branch, then (optionally) a render job follows.

Params: composition (or None), title, seed, params, measures, members, base, requested_by (a
member id: the requester creates the composition and branch; each member commits their part),
render (settings dict or None), publish (bool).
"""
from __future__ import annotations

from companion.algorithms.base import Params
from companion.algorithms.generate import generate
from companion.compositions.rights import member_actor
from companion.compositions.store import Store
from companion.tasks.models import Job
from companion.tasks.service import create_job, set_progress, submit
from jobs.base import running
from jobs.context import services


def generate_job(job_id: str) -> dict:
    svc = services()
    result: dict = {}
    with running(svc, job_id):
        with svc.db.session() as s:
            p = dict(s.get(Job, job_id).params)
        band = svc.band
        ident = member_actor(band, p["requested_by"])
        set_progress(svc, job_id, 10, "composing")
        result = generate(Store(svc.config.compositions_dir), band, ident, comp_id=p.get("composition"),
                          title=p.get("title", ""), seed=int(p.get("seed", 0)), params=Params.from_dict(p.get("params")),
                          measures=p.get("measures"), members=p.get("members"), base=p.get("base", "main"))
        if p.get("render") is not None:
            with svc.db.session() as s:
                job = create_job(s, kind="render", created_by=p["requested_by"], params={
                    "composition": result["composition"], "commit": result["head"], "settings": p["render"],
                    "publish": bool(p.get("publish")), "title": p.get("title")})
                s.flush()
                result["render_job"] = job.id
            submit(svc, job, "jobs.render.render_job")
        with svc.db.session() as s:
            s.get(Job, job_id).result = result
    return result
