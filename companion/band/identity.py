"""Who a caller is, once authenticated: the Identity every rights check reads (companion/band/auth.py
builds it from tokens and signatures; companion/access/identity.py for listeners)."""
from __future__ import annotations

import dataclasses
import datetime as dt


@dataclasses.dataclass(frozen=True)
class Identity:
    kind: str  # member | guest | service | listener | anonymous
    role: str  # leader | member | guest | listener | service | anonymous
    member_id: str | None
    name: str
    rights: frozenset[str]
    scopes: dict = dataclasses.field(default_factory=dict)
    expires_at: dt.datetime | None = None
    token_id: str | None = None

    def has(self, right: str) -> bool:
        return "*" in self.rights or right in self.rights

    @property
    def authenticated(self) -> bool:
        return self.kind != "anonymous"


ANONYMOUS = Identity(kind="anonymous", role="anonymous", member_id=None, name="anonymous", rights=frozenset())
