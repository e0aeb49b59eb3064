"""Seeding the band from the band file, and the members' pictures."""
from __future__ import annotations

from html import escape

import sqlalchemy as sa
from sqlalchemy.orm import Session

from companion.band.models import Member
from companion.band.roster import Band, BandMember


def seed_members(session: Session, band: Band) -> list[str]:
    """Create or update a Member row per band-file member; returns the ids written. Idempotent."""
    written = []
    for m in band.members.values():
        row = session.get(Member, m.id) or Member(id=m.id)
        row.name, row.role, row.title = m.name, m.role, m.title
        row.instrument, row.personality, row.owns = m.instrument, m.personality, list(m.owns)
        row.visual, row.sort_order = m.visual, m.order
        session.add(row)
        written.append(m.id)
    session.flush()
    return written


def list_members(session: Session) -> list[Member]:
    return list(session.scalars(sa.select(Member).order_by(Member.sort_order)))


def member_picture_svg(m: BandMember) -> str:
    """A robot portrait in the member's colours (the site's default avatar)."""
    eyes = {
        "chops": '<rect x="70" y="78" width="26" height="18" rx="3" fill="{a}"/>'
                 '<rect x="104" y="78" width="26" height="18" rx="3" fill="{a}"/>',
        "verse": '<rect x="66" y="80" width="68" height="8" rx="4" fill="{a}" opacity=".8"/>',
        "form": "".join(f'<circle cx="{70 + 10 * i}" cy="86" r="3" fill="{{a}}"/>' for i in range(7)),
    }.get(m.id, '<circle cx="82" cy="86" r="9" fill="{a}"/><circle cx="118" cy="86" r="9" fill="{a}"/>')
    mouth = ('<polyline points="72,122 80,114 88,128 96,112 104,130 112,114 120,126 128,118" '
             'fill="none" stroke="{a}" stroke-width="3"/>' if m.id == "verse"
             else '<rect x="80" y="118" width="40" height="6" rx="3" fill="{a}"/>')
    face = (eyes + mouth).format(a=escape(m.accent))
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 200" width="200" height="200" '
        f'role="img" aria-label="{escape(m.name)}, {escape(m.title)}">'
        f'<title>{escape(m.name)} — {escape(m.instrument)}</title>'
        f'<rect width="200" height="200" rx="24" fill="#11131a"/>'
        f'<rect x="92" y="20" width="16" height="22" fill="{escape(m.accent)}"/>'
        f'<circle cx="100" cy="18" r="7" fill="{escape(m.accent)}"/>'
        f'<rect x="44" y="42" width="112" height="110" rx="22" fill="{escape(m.color)}" '
        f'stroke="{escape(m.accent)}" stroke-width="4"/>{face}'
        f'<rect x="60" y="156" width="80" height="30" rx="8" fill="{escape(m.color)}" opacity=".85"/>'
        f'<text x="100" y="176" font-family="sans-serif" font-size="14" text-anchor="middle" '
        f'fill="#11131a">{escape(m.name)}</text></svg>'
    )
