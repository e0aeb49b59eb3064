"""Entitlements: one row per source, scope and reference; active between start and end unless revoked."""
from __future__ import annotations

import datetime as dt

import pytest

from companion.access import service as access
from companion.catalog.models import Album, Track
from companion.db import utcnow
from companion.errors import InvalidInput


@pytest.fixture
def db(app):
    return app.extensions["scripthammer"].db


def _track(s, slug="t", album=None) -> Track:
    t = Track(slug=slug, title=slug, album=album, release_state="premium")
    s.add(t)
    s.flush()
    return t


def test_subscription_covers_every_track_until_it_ends(db, db_kind):
    now = utcnow()
    with db.session() as s:
        t = _track(s)
        fan = access.listener_for(s, 42, "Fan")
        access.upsert(s, listener=fan, source="subscription", source_ref="wcs-subscription:7", scope="all",
                      starts_at=now - dt.timedelta(days=1), ends_at=now + dt.timedelta(days=30),
                      granted_by="woocommerce")
        assert access.entitled(s, fan.id, t.id, None)
        assert not access.entitled(s, fan.id, t.id, None, at=now + dt.timedelta(days=31))
        assert not access.entitled(s, fan.id, t.id, None, at=now - dt.timedelta(days=2))
        other = access.listener_for(s, 43)
        assert not access.entitled(s, other.id, t.id, None)
        assert not access.entitled(s, None, t.id, None)


def test_purchase_covers_only_its_item_and_revocation_ends_it(db):
    with db.session() as s:
        album = Album(slug="a", title="A")
        s.add(album)
        s.flush()
        on_album, elsewhere = _track(s, "on", album), _track(s, "off")
        fan = access.listener_for(s, 42)
        access.upsert(s, listener=fan, source="purchase", source_ref="wc-order:9",
                      scope=access.scope_of("album", album.id))
        assert access.entitled(s, fan.id, on_album.id, album.id)
        assert not access.entitled(s, fan.id, elsewhere.id, None)
        assert access.revoke(s, source="purchase", source_ref="wc-order:9", reason="refunded") == 1
        assert not access.entitled(s, fan.id, on_album.id, album.id)
        # A late duplicate of the purchase does not bring a refunded order back.
        access.upsert(s, listener=fan, source="purchase", source_ref="wc-order:9",
                      scope=access.scope_of("album", album.id), reactivate=False)
        assert not access.entitled(s, fan.id, on_album.id, album.id)


def test_applying_the_same_entitlement_twice_keeps_one_row(db):
    with db.session() as s:
        t = _track(s)
        fan = access.listener_for(s, 5)
        a = access.upsert(s, listener=fan, source="grant", source_ref="grant:1", scope=access.scope_of("track", t.id))
        b = access.upsert(s, listener=fan, source="grant", source_ref="grant:1", scope=access.scope_of("track", t.id))
        assert a.id == b.id
        assert len(access.active_entitlements(s, fan.id)) == 1
        assert access.listener_for(s, 5).id == fan.id


@pytest.mark.parametrize("kind,item", [("track", None), ("album", 0), ("everything", None)])
def test_bad_scopes_are_refused(kind, item):
    with pytest.raises(InvalidInput):
        access.scope_of(kind, item)
