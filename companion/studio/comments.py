"""Comments and fans' feedback on a composition, anchored to a version, a part and a measure range.

Who: anyone who may read the composition may read its comments; anyone signed in who may read it
may comment or reply (a listener's comment is marked as a fan's); band members resolve and reopen.
Every anchor is checked against the version it names (the part exists there, the measures too).
"""
from __future__ import annotations

import sqlalchemy as sa

from ..compositions import rights
from ..compositions import service as CS
from ..compositions.store import Store
from ..errors import Forbidden, InvalidInput, NotFound, Unauthorized
from .models import CompositionComment

MAX_BODY = 5000


def author_of(ident) -> tuple[str, str, bool]:
    """(author id, display name, is a fan) of an identity."""
    if ident.kind == "listener":
        lid = (ident.scopes or {}).get("listener_id")
        return (f"listener:{lid}" if lid is not None else f"listener:{ident.token_id}"), ident.name, True
    return ident.member_id or ident.name, ident.name, False


def out(c: CompositionComment) -> dict:
    return {"id": c.id, "composition": c.composition, "version": c.version, "part": c.part,
            "measure_from": c.measure_from, "measure_to": c.measure_to, "parent_id": c.parent_id,
            "author": c.author, "author_name": c.author_name, "fan": c.fan, "body": c.body,
            "resolved": c.resolved, "resolved_by": c.resolved_by,
            "created_at": c.created_at.isoformat() + "Z"}


def list_comments(session, store: Store, ident, comp_id: str, version: str | None = None) -> list[dict]:
    repo = CS._open_readable(store, ident, comp_id)
    del repo
    q = sa.select(CompositionComment).where(CompositionComment.composition == comp_id)
    if version:
        q = q.where(CompositionComment.version == version)
    return [out(c) for c in session.scalars(q.order_by(CompositionComment.created_at, CompositionComment.id))]


def add_comment(session, store: Store, ident, comp_id: str, data: dict) -> dict:
    if not ident.authenticated:
        raise Unauthorized("sign in to comment", code="auth_required")
    repo = CS._open_readable(store, ident, comp_id)
    if rights._expired(ident):
        raise Unauthorized("your token has expired", code="token_expired")
    body = (data.get("body") or "").strip()
    if not body:
        raise InvalidInput("a comment needs some text", code="empty_comment", details={"field": "body"})
    if len(body) > MAX_BODY:
        raise InvalidInput(f"a comment is at most {MAX_BODY} characters", code="comment_too_long",
                           details={"field": "body", "max": MAX_BODY})
    try:
        commit = store.resolve(repo, data["version"])
    except (NotFound, InvalidInput, KeyError, ValueError):
        raise NotFound(f"no version {data.get('version')!r} in {comp_id}", code="version_not_found",
                       details={"field": "version"}) from None
    meta = CS._meta(store.read_files(repo, commit))
    part = data.get("part")
    if part is not None and part not in {p["id"] for p in meta.get("parts", [])}:
        raise InvalidInput(f"no part {part!r} at that version", code="part_not_found", details={"field": "part"})
    a, b = int(data["measure_from"]), int(data["measure_to"])
    n = int(meta.get("measures", 0))
    if not (1 <= a <= b <= max(n, 1)):
        raise InvalidInput(f"measures run from 1 to {n}, the first not after the last", code="bad_measures",
                           details={"field": "measure_from", "measures": n})
    parent_id = data.get("parent_id")
    if parent_id is not None:
        parent = session.get(CompositionComment, int(parent_id))
        if parent is None or parent.composition != comp_id:
            raise NotFound("no such comment to reply to", code="comment_not_found", details={"field": "parent_id"})
    author, name, fan = author_of(ident)
    c = CompositionComment(composition=comp_id, version=str(commit.id), part=part, measure_from=a, measure_to=b,
                           parent_id=parent_id, author=author, author_name=name, fan=fan, body=body,
                           resolved=False)
    session.add(c)
    session.flush()
    return out(c)


def resolve_comment(session, store: Store, ident, comp_id: str, comment_id: int, resolved: bool) -> dict:
    CS._open_readable(store, ident, comp_id)
    if ident.kind != "member":
        raise Forbidden("only band members resolve comments", code="members_only")
    c = session.get(CompositionComment, comment_id)
    if c is None or c.composition != comp_id:
        raise NotFound("no such comment", code="comment_not_found")
    c.resolved = bool(resolved)
    c.resolved_by = ident.member_id if resolved else None
    session.flush()
    return out(c)
