"""The WooCommerce products that sell the band's releases, as the companion records them when it
publishes (companion/wordpress/service.py asks the plugin to create them): product id -> scope.

Order line items name their scope themselves (the plugin adds ``scripthammer_scope`` to every line
item WooCommerce's REST API and webhooks show); this table is the fallback for a line item without it,
and it gives the player a "buy" link per track or album (:func:`buy_url`).
"""
from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.orm import Session

from companion.commerce.models import CommerceProduct
from companion.schema_fields import INT_MAX

SCOPE_RE = re.compile(r"^(all|track:[1-9][0-9]{0,9}|album:[1-9][0-9]{0,9}|live:[1-9][0-9]{0,9})$")


def valid_scope(scope) -> str | None:
    """``scope`` when it is "all", "track:<id>", "album:<id>" or "live:<broadcast id>" (a ticket); None otherwise."""
    return scope if isinstance(scope, str) and SCOPE_RE.match(scope) else None


def record_product(s: Session, *, wc_product_id: int, scope: str, title: str = "", permalink: str = "",
                   min_price: str = "") -> CommerceProduct:
    """Remember (or update) which companion item a WooCommerce product sells."""
    if not valid_scope(scope) or int(wc_product_id) <= 0:
        from companion.errors import InvalidInput

        raise InvalidInput(f"Not a product of a track or album: {wc_product_id!r} {scope!r}.", code="bad_product")
    row = s.get(CommerceProduct, int(wc_product_id))
    if row is None:
        row = CommerceProduct(wc_product_id=int(wc_product_id), scope=scope)
        s.add(row)
    row.scope, row.title, row.permalink, row.min_price = scope, title[:200], permalink[:500], str(min_price)[:20]
    s.flush()
    return row


def scope_of_product(s: Session, product_id: int | None) -> str | None:
    """The scope a WooCommerce product sells, or None when it is not one of ours."""
    if not product_id or isinstance(product_id, bool):
        return None
    try:
        pid = int(product_id)
    except (TypeError, ValueError, OverflowError):  # a webhook body says anything
        return None
    if not 0 < pid <= INT_MAX:
        return None
    row = s.get(CommerceProduct, pid)
    return row.scope if row is not None else None


def product_for(s: Session, kind: str, item_id: int) -> CommerceProduct | None:
    return s.scalars(sa.select(CommerceProduct).where(CommerceProduct.scope == f"{kind}:{int(item_id)}")
                     .order_by(CommerceProduct.wc_product_id)).first()


def buy_url(s: Session, kind: str, item_id: int) -> str | None:
    """Where a fan buys this track or album (its WooCommerce product page), or None."""
    row = product_for(s, kind, item_id)
    return row.permalink or None if row is not None else None
