"""Generation as a job: what the API checks and queues (:func:`queue_generation`), and what the
generate job runs (:func:`run_generation`): the band writes a piece on a new branch, one commit
per member, with progress on the job row.

A queued generation knows its composition and branch before it starts (the branch name carries
the job's id), so a retry after a failure part-way deletes the half-written branch and writes it
again: the same seed gives the same commits.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

from ..errors import Conflict, Forbidden, InvalidInput
from .base import Params
from .generate import generate
from .registry import WRITING_ORDER

GENERATE_FUNC = "jobs.generate.generate_job"


@dataclasses.dataclass(frozen=True)
class GenerationRequest:
    """A generation as the job row keeps it (``to_params`` / ``from_params``).

    Attributes:
        requested_by: the member who asked (creates the composition and the branch).
        composition: the composition's id; ``create``: it does not exist yet and this makes it.
        branch: the new branch the members commit on.
        title, seed, params, measures, members, base, visibility, selection: as for
            :func:`companion.algorithms.generate.generate`.
    """

    requested_by: str
    composition: str
    branch: str
    create: bool = False
    title: str = ""
    seed: int = 0
    params: dict = dataclasses.field(default_factory=dict)
    measures: int | None = None
    members: list[str] | None = None
    base: str = "main"
    visibility: str = "private"
    selection: list[int] | None = None  # [first, last] measure the members write; None: the whole piece

    def to_params(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_params(cls, p: dict) -> "GenerationRequest":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in p.items() if k in known})


def check_request(svc, ident, body: dict) -> tuple[str, bool, Params]:
    """What can be checked before queueing: the caller is a band member, the parameters and members
    are valid, and the composition is readable at ``base`` (or free, for a new one).
    Returns (composition id, whether the job creates it, the parameters)."""
    from ..compositions import service as S
    from ..compositions.model import slugify
    from ..compositions.store import ID_RE, Store

    band = svc.band
    if ident.kind == "guest" or ident.member_id not in band.members:
        raise Forbidden("Only band members run the band's algorithms.", code="members_only")
    try:
        params = Params.from_dict(body.get("params"))
    except (ValueError, TypeError) as exc:
        raise InvalidInput(str(exc), code="bad_params") from None
    unknown = [m for m in body.get("members") or () if m not in band.members]
    if unknown:
        raise InvalidInput(f"not band members: {', '.join(unknown)}", code="unknown_member")
    selection = selection_of(body)
    store = Store(svc.config.compositions_dir)
    comp_id = body.get("composition")
    if selection and (not comp_id or not store.exists(comp_id)):
        raise InvalidInput("a selection of measures is of an existing composition: name it in 'composition'",
                           code="bad_selection")
    if not comp_id:
        comp_id = slugify(body.get("title") or "Untitled", "composition")
        if store.exists(comp_id):
            raise Conflict(f"a composition {comp_id!r} exists already: name it in 'composition' to generate into it, "
                           "or choose another title", code="composition_exists", details={"composition": comp_id})
        return comp_id, True, params
    if not ID_RE.match(comp_id):
        raise InvalidInput(f"{comp_id!r} is not a valid composition id (lowercase letters, digits, dashes)",
                           code="bad_composition_id")
    if not store.exists(comp_id):
        return comp_id, True, params
    got = S.get_composition(store, band, ident, comp_id, rev=body.get("base") or "main")  # 403/404 as for a read
    if selection and selection[1] > int(got["measures"]):
        raise InvalidInput(f"the piece has {got['measures']} measures: measure {selection[1]} is not in it",
                           code="bad_selection", details={"measures": got["measures"]})
    return comp_id, False, params


def selection_of(body: dict) -> list[int] | None:
    """[first, last] from the request's from_measure and to_measure (both or neither)."""
    lo, hi = body.get("from_measure"), body.get("to_measure")
    if lo is None and hi is None:
        return None
    if lo is None or hi is None or int(lo) < 1 or int(hi) < int(lo):
        raise InvalidInput("give from_measure and to_measure, first <= last", code="bad_selection",
                           details={"from_measure": lo, "to_measure": hi})
    return [int(lo), int(hi)]


def queue_generation(svc, ident, body: dict) -> dict[str, Any]:
    """Check the request, make its job row and queue it; what the API answers (202)."""
    from ..tasks.service import create_job, submit

    comp_id, create, params = check_request(svc, ident, body)
    with svc.db.session() as s:
        job = create_job(s, kind="generate", created_by=ident.member_id)
        req = GenerationRequest(requested_by=ident.member_id, composition=comp_id, create=create,
                                branch=f"generated-{int(body.get('seed') or 0)}-{job.id[:8]}",
                                title=body.get("title") or "", seed=int(body.get("seed") or 0),
                                params=params.to_dict(), measures=body.get("measures"),
                                members=list(body["members"]) if body.get("members") else None,
                                base=body.get("base") or "main", visibility=body.get("visibility") or "private",
                                selection=selection_of(body))
        job.params = req.to_params()
    submit(svc, job, GENERATE_FUNC)
    return {"job": job.id, "state": "queued", "composition": comp_id, "branch": req.branch,
            "status_url": f"/api/algorithms/generations/{job.id}"}


def run_generation(svc, req: GenerationRequest, progress: Callable[[int, str], None]) -> dict[str, Any]:
    """The generate job's work: the band writes on ``req.branch`` (written afresh when an earlier
    attempt left part of it)."""
    from ..compositions import service as S
    from ..compositions.rights import member_actor
    from ..compositions.store import Store

    store = Store(svc.config.compositions_dir)
    band = svc.band
    ident = member_actor(band, req.requested_by)
    if store.exists(req.composition) and store.head(store.repo(req.composition), req.branch) is not None:
        S.delete_branch(store, band, ident, req.composition, req.branch)
    return generate(store, band, ident, comp_id=req.composition, title=req.title, seed=req.seed,
                    params=Params.from_dict(req.params), measures=req.measures,
                    members=req.members or list(WRITING_ORDER), base=req.base, branch=req.branch,
                    visibility=req.visibility, selection=req.selection, progress=progress)
