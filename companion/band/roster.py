"""The band file: members, part ownership and the rights of each role, as data."""
from __future__ import annotations

import dataclasses
import functools
import tomllib
from pathlib import Path
from typing import Any

from companion.errors import ScriptHammerError

ROLES = ("leader", "member", "guest", "listener", "service")


@dataclasses.dataclass(frozen=True)
class BandMember:
    id: str
    name: str
    role: str
    title: str
    instrument: str
    personality: str
    owns: tuple[str, ...]
    may_change_all_parts: bool = False
    lead_instrument: str | None = None
    visual: str = ""
    color: str = "#888888"
    accent: str = "#444444"
    order: int = 0


@dataclasses.dataclass(frozen=True)
class Band:
    name: str
    sound: str
    debut_album: str
    leader: str
    merge_into_main: tuple[str, ...]
    part_kinds: dict[str, str]
    roles: dict[str, frozenset[str]]
    members: dict[str, BandMember]

    def rights_of(self, role: str) -> frozenset[str]:
        return self.roles.get(role, frozenset())

    def owner_of(self, part_kind: str, lead_instrument: str | None = None) -> list[str]:
        """Members who own parts of this kind (lead parts narrow by instrument)."""
        out = []
        for m in self.members.values():
            if part_kind in m.owns and (part_kind != "lead" or lead_instrument is None
                                        or m.lead_instrument in (None, lead_instrument)):
                out.append(m.id)
        return out

    def may_change_part(self, member_id: str, part_kind: str, owner: str | None = None) -> bool:
        """Whether a member may change a part of ``part_kind`` (owned by ``owner`` if the part names one)."""
        m = self.members.get(member_id)
        if m is None:
            return False
        if m.may_change_all_parts:
            return True
        if owner is not None:
            return owner == member_id
        return part_kind in m.owns


class BandFileError(ScriptHammerError, ValueError):
    """The band file is not valid (a deployment error: the companion cannot start with it)."""

    status = 500
    code = "bad_band_file"


def parse_band(data: dict[str, Any]) -> Band:
    try:
        info = data["band"]
        roles = {name: frozenset(rights) for name, rights in data.get("roles", {}).items()}
        unknown_roles = set(roles) - set(ROLES)
        if unknown_roles:
            raise BandFileError(f"unknown roles in band file: {sorted(unknown_roles)}")
        kinds = dict(data.get("part_kinds", {}))
        members: dict[str, BandMember] = {}
        for i, raw in enumerate(data.get("members", [])):
            m = BandMember(
                id=raw["id"], name=raw["name"], role=raw.get("role", "member"), title=raw.get("title", ""),
                instrument=raw.get("instrument", ""), personality=raw.get("personality", ""),
                owns=tuple(raw.get("owns", ())), may_change_all_parts=bool(raw.get("may_change_all_parts", False)),
                lead_instrument=raw.get("lead_instrument"), visual=raw.get("visual", ""),
                color=raw.get("color", "#888888"), accent=raw.get("accent", "#444444"), order=i,
            )
            if m.role not in ("leader", "member"):
                raise BandFileError(f"member {m.id}: role must be leader or member, not {m.role!r}")
            bad = [k for k in m.owns if k not in kinds]
            if bad:
                raise BandFileError(f"member {m.id}: owns unknown part kinds {bad}")
            if m.id in members:
                raise BandFileError(f"member {m.id} is listed twice")
            members[m.id] = m
        band = Band(name=info["name"], sound=info.get("sound", ""), debut_album=info.get("debut_album", ""),
                    leader=info["leader"], merge_into_main=tuple(info.get("merge_into_main", [info["leader"]])),
                    part_kinds=kinds, roles=roles, members=members)
    except KeyError as exc:
        raise BandFileError(f"band file is missing {exc}") from None
    if band.leader not in band.members:
        raise BandFileError(f"leader {band.leader!r} is not a member")
    return band


@functools.lru_cache(maxsize=8)
def _load(path: str, mtime: float) -> Band:
    with open(path, "rb") as fh:
        return parse_band(tomllib.load(fh))


def load_band(path: str | Path) -> Band:
    """Read (and cache until the file changes) the band file at ``path``."""
    p = Path(path)
    return _load(str(p), p.stat().st_mtime)
