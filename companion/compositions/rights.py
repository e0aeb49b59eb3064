"""Who may read, change and merge what: the band file's data applied to compositions.

Works with any identity object shaped like ``companion.band.auth.Identity`` (kind, role,
member_id, name, rights, scopes, expires_at, has(right)).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..errors import Forbidden, Unauthorized

GLOBAL_KIND = "form"        # tempo, meter, key and markers are structure: Form's (and the leader's)
METADATA_KIND = "arrangement"  # title and visibility: the arranger's (the leader's)


@dataclass(frozen=True)
class Actor:
    """A stand-in identity for the CLI and tests (same fields as auth.Identity)."""

    kind: str
    role: str
    member_id: str | None
    name: str
    rights: frozenset = frozenset()
    scopes: dict = field(default_factory=dict)
    expires_at: datetime | None = None

    def has(self, right: str) -> bool:
        return "*" in self.rights or right in self.rights


def member_actor(band, member_id: str) -> Actor:
    m = band.members[member_id]
    return Actor("member", m.role, m.id, m.name, band.rights_of(m.role))


def _anonymous(ident) -> bool:
    return ident is None or getattr(ident, "kind", "anonymous") == "anonymous"


def _expired(ident) -> bool:
    exp = getattr(ident, "expires_at", None)
    if exp is None:
        return False
    now = datetime.now(timezone.utc) if exp.tzinfo else datetime.utcnow()
    return exp <= now


def _scope(ident, name: str) -> list | None:
    scopes = getattr(ident, "scopes", None) or {}
    val = scopes.get(name)
    return list(val) if val is not None else None


def may_read(ident, comp_id: str, meta: dict) -> bool:
    if meta.get("visibility") == "public":
        return not _expired(ident)  # fans follow public pieces' history, signed in or not
    if _anonymous(ident) or _expired(ident):
        return False
    if ident.has("band.read_private"):
        return True
    if ident.kind == "guest":
        comps = _scope(ident, "compositions")
        return comps is not None and comp_id in comps
    return False


def require_read(ident, comp_id: str, meta: dict) -> None:
    if may_read(ident, comp_id, meta):
        return
    if _anonymous(ident) or _expired(ident):
        raise Unauthorized("sign in to read this composition", details={"composition": comp_id})
    raise Forbidden(f"composition {comp_id!r} is private: reading it needs band.read_private",
                    code="private_composition", details={"composition": comp_id, "right": "band.read_private"})


def require_write(ident, comp_id: str, branch: str) -> None:
    """The identity may commit to this composition and branch at all (part rights come after)."""
    if _anonymous(ident):
        raise Unauthorized("sign in to change compositions")
    if _expired(ident):
        raise Unauthorized("your token has expired", code="token_expired")
    if not ident.has("compositions.write"):
        raise Forbidden("changing compositions needs compositions.write", code="missing_right",
                        details={"right": "compositions.write"})
    if ident.kind == "guest":  # a guest gets only what the invitation names: no scope, no access
        comps, branches = _scope(ident, "compositions"), _scope(ident, "branches")
        if comps is None or comp_id not in comps:
            raise Forbidden(f"your invitation does not cover composition {comp_id!r}", code="guest_scope",
                            details={"composition": comp_id})
        if branches is None or branch not in branches:
            raise Forbidden(f"your invitation does not cover branch {branch!r}", code="guest_scope",
                            details={"branch": branch, "composition": comp_id})


def may_change(band, ident, part_id: str, kind: str, owner: str | None) -> bool:
    if ident.kind == "guest":  # only the parts (ids or kinds) the invitation names
        parts = _scope(ident, "parts") or []
        return part_id in parts or kind in parts
    if ident.member_id is None:
        return False
    if "*" in getattr(ident, "rights", ()) and ident.role == "leader":
        return True
    return band.may_change_part(ident.member_id, kind, owner)


def require_parts(band, ident, comp_id: str, touched: list[tuple[str, str, str | None]]) -> None:
    """Refuse (403 naming the part) if any touched (part id, kind, owner) is not the identity's to change."""
    for part_id, kind, owner in touched:
        if not may_change(band, ident, part_id, kind, owner):
            who = ident.member_id or ident.name
            owner_txt = f", owned by {owner}" if owner else ""
            raise Forbidden(f"{who} may not change part {part_id!r} ({kind}{owner_txt})", code="part_forbidden",
                            details={"part": part_id, "kind": kind, "owner": owner, "composition": comp_id})


def require_member(ident, comp_id: str, what: str) -> None:
    """Band members only (not guests): ``what`` (e.g. "delete branches") is not for invitations."""
    if ident.kind == "guest":
        raise Forbidden(f"guests may not {what}", code="guest_scope", details={"composition": comp_id})


def require_merge(band, ident, comp_id: str, target: str) -> None:
    if _anonymous(ident) or _expired(ident):
        raise Unauthorized("sign in to merge")
    if not ident.has("compositions.merge"):
        raise Forbidden("merging needs compositions.merge", code="missing_right", details={"right": "compositions.merge"})
    if target == "main" and ident.member_id not in band.merge_into_main:
        raise Forbidden("only " + ", ".join(band.merge_into_main) + " may merge into main", code="merge_into_main",
                        details={"branch": "main", "allowed": list(band.merge_into_main)})


def touched_parts(old_meta: dict | None, new_meta: dict, old_files: dict[str, Any], new_files: dict[str, Any]
                  ) -> list[tuple[str, str, str | None]]:
    """Every (part id, kind, owner) a change touches; global tracks count as a part of kind form,
    title and visibility as arrangement. A part whose kind or owner changes counts under both."""
    out: list[tuple[str, str, str | None]] = []
    old_parts = {p["id"]: p for p in (old_meta or {}).get("parts", [])}
    new_parts = {p["id"]: p for p in new_meta.get("parts", [])}
    for pid in list(old_parts) + [p for p in new_parts if p not in old_parts]:
        o, n = old_parts.get(pid), new_parts.get(pid)
        path = f"parts/{pid}.txt"
        if o != n or old_files.get(path) != new_files.get(path):
            for p in (o, n):
                if p is not None and (pid, p.get("kind", "melody"), p.get("owner")) not in out:
                    out.append((pid, p.get("kind", "melody"), p.get("owner")))
    if old_files.get("global.txt") != new_files.get("global.txt"):
        out.append(("global", GLOBAL_KIND, None))
    strip = lambda m: {k: v for k, v in (m or {}).items() if k not in ("parts", "measures")}
    if old_meta is not None and strip(old_meta) != strip(new_meta):
        out.append(("metadata", METADATA_KIND, None))
    return out
