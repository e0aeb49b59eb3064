"""The rules: which objects are public, and what each caller may hear and download of an item.

Pure functions over release states, roles and the caller's standing; no database, no HTTP.

=============  =========================================  ==========================================
release state  public objects (no signature)              everything else
=============  =========================================  ==========================================
public         preview, cover, peaks, HLS, downloads      masters, original, manifest: signed only
premium        preview, cover, peaks                      HLS, downloads, masters...: signed only
unreleased     none                                       signed only (band, guests in scope)
draft          none                                       signed only (band, guests in scope)
=============  =========================================  ==========================================

Who gets signed URLs for an item (:func:`level_for`): the band (band.read_private) for
everything, masters included; guests whose token names the track or its album; listeners with
an active entitlement covering a premium track. Everyone hears a public track in full and may
download it; a premium track without an entitlement is the preview and a prompt.
"""
from __future__ import annotations

import dataclasses

RELEASED = ("public", "premium")

#: Roles (see companion/catalog/objects.py) anyone may fetch without a signature, per release state.
PUBLIC_ROLES: dict[str, frozenset[str]] = {
    "public": frozenset({"preview", "cover", "peaks", "stream", "download"}),
    "premium": frozenset({"preview", "cover", "peaks"}),
    "unreleased": frozenset(),
    "draft": frozenset(),
}


def is_public(role: str, release_state: str) -> bool:
    """May anyone fetch an object in ``role`` of an item in ``release_state`` without a signature?"""
    return role in PUBLIC_ROLES.get(release_state, frozenset())


@dataclasses.dataclass(frozen=True)
class Level:
    """What one caller gets of one track.

    stream: "full" (the HLS ladder and every rendition it may hear), "preview" or "none".
    download: may it download the formats; masters: may it fetch the masters (the band).
    why: "band", "guest", "public", "entitled", "locked" (premium, no entitlement), "hidden".
    """

    stream: str
    download: bool
    masters: bool
    why: str

    @property
    def visible(self) -> bool:
        return self.stream != "none"


BAND = Level("full", True, True, "band")
GUEST = Level("full", True, False, "guest")
PUBLIC = Level("full", True, False, "public")
ENTITLED = Level("full", True, False, "entitled")
LOCKED = Level("preview", False, False, "locked")
HIDDEN = Level("none", False, False, "hidden")


def level_for(release_state: str, *, band: bool, guest_in_scope: bool, entitled: bool) -> Level:
    """The rule of the table above for one track."""
    if band:
        return BAND
    if guest_in_scope:
        return GUEST
    if release_state == "public":
        return PUBLIC
    if release_state == "premium":
        return ENTITLED if entitled else LOCKED
    return HIDDEN


def covers(scopes: set[str] | frozenset[str], track_id: int, album_id: int | None) -> bool:
    """Does one of these entitlement scopes cover the track ("all", "track:<id>", "album:<id>")?"""
    return "all" in scopes or f"track:{track_id}" in scopes or (album_id is not None and f"album:{album_id}" in scopes)
