"""Credits over HTTP: who wrote what, the split sheet, ISRC and ISWC (docs/rights.md, "Credits and copyright").

| route | who |
|---|---|
| ``GET /api/rights/credits/<composition>`` (``?rev=``, ``?notes=true``) | the band, a guest invited to the piece; anyone for a released version of a public piece |
| ``GET /api/rights/credits/<composition>/split-sheet.csv``, ``/split-sheet.html`` | the same |
| ``PUT /api/rights/credits/<composition>/codes`` | ``rights.codes`` (the leader): the ISWC |
| ``GET /api/rights/tracks/<id>/credits`` | whoever may see the track; a listener only once it is released |
| ``PUT /api/rights/tracks/<id>/codes`` | ``rights.codes`` (the leader): ISRC, ISWC, the composition version it sounds |
"""
from __future__ import annotations

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from companion.band.auth import current_identity, requires
from companion.errors import Conflict, NotFound
from companion.services import current as services

blp = Blueprint("credits", __name__, url_prefix="/api/rights",
                description="Credits and copyright: per-note provenance, shares, the split sheet, ISRC and ISWC.")

CODES_RIGHT = "rights.codes"


class CreditsArgs(Schema):
    rev = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=100))
    notes = fields.Boolean(load_default=False)


class SheetArgs(Schema):
    rev = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=100))


class CompositionCodesSchema(Schema):
    iswc = fields.String(required=True, allow_none=True, validate=validate.Length(max=40),
                         metadata={"description": "T-DDD.DDD.DDD-C (check digit verified); null clears it"})


class TrackCodesSchema(Schema):
    isrc = fields.String(allow_none=True, validate=validate.Length(max=40),
                         metadata={"description": "CC-XXX-YY-NNNNN (dashes optional); null clears it"})
    iswc = fields.String(allow_none=True, validate=validate.Length(max=40),
                         metadata={"description": "the work's ISWC when the track sounds no composition here"})
    composition = fields.String(allow_none=True, validate=validate.Length(max=64),
                                metadata={"description": "the composition this recording sounds (null: none)"})
    rev = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=100),
                        metadata={"description": "its version (branch, tag or commit; default main)"})


def _store():
    from companion.compositions.store import Store

    return Store(services().config.compositions_dir)


def _readable(comp_id: str, rev: str | None) -> tuple[str, str | None]:
    """(commit, ISWC) of the version the caller may read the credits of (401/403/404 otherwise)."""
    from companion.rights import credits

    svc = services()
    with svc.db.session() as s:
        commit = credits.readable_version(s, _store(), current_identity(), comp_id, rev)
        return commit, credits.codes_of(s, comp_id)["iswc"]


@blp.route("/credits/<string:comp_id>")
class Credits(MethodView):
    @blp.arguments(CreditsArgs, location="query")
    @blp.response(200)
    def get(self, args, comp_id):
        """A version's credits: shares by sounding duration, performers, the commits that wrote the
        surviving notes and, with ``notes=true``, every note's provenance (member, hand or algorithm and
        seed, commit)."""
        from companion.rights import credits

        commit, iswc = _readable(comp_id, args["rev"])
        out = credits.compute(_store(), services().band, comp_id, commit, with_notes=args["notes"])
        out["version"]["revision"] = args["rev"] or out["version"]["id"]
        out["iswc"] = iswc
        return out


@blp.route("/credits/<string:comp_id>/split-sheet.csv")
class SplitCsv(MethodView):
    @blp.arguments(SheetArgs, location="query")
    @blp.response(200, content_type="text/csv")
    def get(self, args, comp_id):
        """The split sheet as CSV: one row per writer (share, weighted and plain quarter notes, algorithms, roles)."""
        from companion.rights import credits

        commit, iswc = _readable(comp_id, args["rev"])
        text = credits.split_csv(credits.compute(_store(), services().band, comp_id, commit), iswc)
        return Response(text, mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="{comp_id}-{commit[:10]}-split-sheet.csv"'})


@blp.route("/credits/<string:comp_id>/split-sheet.html")
class SplitHtml(MethodView):
    @blp.arguments(SheetArgs, location="query")
    @blp.response(200, content_type="text/html")
    def get(self, args, comp_id):
        """The split sheet as a printable page (with signature lines)."""
        from companion.rights import credits

        commit, iswc = _readable(comp_id, args["rev"])
        page = credits.split_html(credits.compute(_store(), services().band, comp_id, commit), iswc)
        return Response(page, mimetype="text/html")


@blp.route("/credits/<string:comp_id>/codes")
class CompositionCodes(MethodView):
    @blp.doc(security=[{"bearer": []}])
    @requires(CODES_RIGHT)
    @blp.arguments(CompositionCodesSchema)
    @blp.response(200)
    def put(self, body, comp_id):
        """Set (or clear) the composition's ISWC. The leader's (``rights.codes``); a bad ISWC is refused
        (400 ``bad_iswc``) and nothing is stored; one already on another composition: 409."""
        from companion.rights import credits

        ident = current_identity()
        svc = services()
        _store().repo(comp_id)  # 404 for a composition that does not exist
        iswc = credits.normalize_iswc(body["iswc"]) if body["iswc"] else None
        with svc.db.session() as s:
            return credits.set_composition_iswc(s, comp_id, iswc, by=ident.member_id or ident.name)


@blp.route("/tracks/<int:track_id>/credits")
class TrackCredits(MethodView):
    @blp.response(200)
    def get(self, track_id):
        """A track's credits (shares, performers), ISRC and ISWC; ``linked: false`` with a message when the
        track sounds no composition version. A listener sees them once the track is released."""
        from companion.access.delivery import Viewer
        from companion.catalog.models import Track
        from companion.rights import credits

        viewer = Viewer.for_request()
        svc = services()
        with svc.db.session() as s:
            track = s.get(Track, track_id)
            if track is None or not viewer.sees_track(track) or not (
                    viewer.band or track.release_state in credits.RELEASED or track.id in viewer.guest_tracks):
                raise NotFound(f"no track {track_id}", code="track_not_found")
            return credits.track_credits(s, _store(), svc.band, track)


@blp.route("/tracks/<int:track_id>/codes")
class TrackCodes(MethodView):
    @blp.doc(security=[{"bearer": []}])
    @requires(CODES_RIGHT)
    @blp.arguments(TrackCodesSchema)
    @blp.response(200)
    def put(self, body, track_id):
        """Set a track's ISRC, ISWC and the composition version it sounds (fields left out stay as they
        are). Everything is checked before anything is stored (400 ``bad_isrc``/``bad_iswc``, 404 for a
        composition or version that does not exist, 409 for an ISRC another track has). A released
        track is released again so that its files carry the new tags (re-tags, no re-encode)."""
        from companion.catalog.models import Track
        from companion.rights import credits

        ident = current_identity()
        svc = services()
        changes: dict = {}
        if "isrc" in body:
            changes["isrc"] = credits.normalize_isrc(body["isrc"]) if body["isrc"] else None
        if "iswc" in body:
            changes["iswc"] = credits.normalize_iswc(body["iswc"]) if body["iswc"] else None
        if "composition" in body:
            if body["composition"]:
                store = _store()
                repo = store.repo(body["composition"])
                changes["composition_id"] = body["composition"]
                changes["composition_commit"] = str(store.resolve(repo, body.get("rev")).id)
            else:
                changes["composition_id"] = changes["composition_commit"] = None
        job = None
        with svc.db.session() as s:
            track = s.get(Track, track_id)
            if track is None:
                raise NotFound(f"no track {track_id}", code="track_not_found")
            if changes.get("isrc"):
                import sqlalchemy as sa

                other = s.execute(sa.select(Track.id).where(Track.isrc == changes["isrc"], Track.id != track_id)
                                  ).scalar()
                if other is not None:
                    raise Conflict(f"ISRC {credits.isrc_display(changes['isrc'])} is already track {other}'s",
                                   code="isrc_taken", details={"track": other})
            retag = any(getattr(track, k) != v for k, v in changes.items())
            for k, v in changes.items():
                setattr(track, k, v)
            s.flush()
            if retag and track.source_key and track.status in ("ready", "failed"):
                from companion.tasks.service import create_job

                job = create_job(s, kind="release", track_id=track.id,
                                 params={"source_key": track.source_key, "reason": "credits changed"},
                                 created_by=ident.member_id or ident.name)
                previous_status, track.status = track.status, "processing"
                s.flush()
                job_id = job.id
            out = credits.track_credits(s, _store(), svc.band, track)
        if job is not None:
            from companion.tasks.service import submit

            def undo(session) -> None:  # the codes stand; the files keep their old tags until the next release
                session.get(Track, track_id).status = previous_status

            submit(svc, job, "jobs.release.release_track", undo=undo)
            out["release_job"] = job_id
        return out
