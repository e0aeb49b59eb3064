"""Rights over HTTP: the watermark detector, watermarked downloads, editions and the ownership log.

| route | who |
|---|---|
| ``POST /api/rights/detect`` | the right ``rights.detect`` (the leader): a suspect file in, the delivery out |
| ``POST /api/rights/trace?track_id=`` | ``rights.detect`` (the leader): a captured premium stream in, the listener out |
| ``POST /api/rights/deliveries`` | a listener entitled to download the track: their marked copy |
| ``GET /api/rights/log/head``, ``/log/entries``, ``/log/export``, ``/log/inclusion``, ``/log/consistency``, ``/log/key`` | anyone (a transparency log is public) |
| ``POST /api/rights/series`` | ``rights.editions`` (the leader) |
| ``POST /api/rights/editions`` | ``rights.editions`` (the leader, WordPress for a WooCommerce order) |
| ``GET /api/rights/editions/certificate`` | anyone: an edition's chain of custody with proofs |
| ``POST /api/rights/editions/<id>/transfers`` | the listener who owns the edition (their consent) |
| ``POST /api/rights/transfers/<id>/accept`` | the listener it is offered to (the second consent) |
| ``GET /api/rights/licences`` | a listener: their own algorithm licences; ``rights.licences`` (the leader): all |
| ``POST /api/rights/licences`` | ``rights.licences`` (the leader): issue one by hand |
| ``GET /api/rights/licences/<id>``, ``/licences/<id>/package`` | the licence's owner (and the leader): the signed file, the package zip |
| ``POST /api/rights/licences/<id>/revoke`` | ``rights.licences`` (the leader) |
| ``GET /api/rights/licences/revocations`` | anyone: the signed revocation list |
"""
from __future__ import annotations


import functools

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from companion.access.guard import requires
from companion.access.identity import listener_id_of
from companion.band.auth import current_identity, require
from companion.errors import Conflict, Forbidden, NotFound, Unauthorized
from companion.rights import ledger, service
from companion.rights.models import Delivery, Edition
from companion.services import current as services
from companion.uploads import received

blp = Blueprint("rights", __name__, url_prefix="/api/rights",
                description="Watermarks, the detector, numbered editions and the ownership log.")

DETECT_RIGHT = "rights.detect"
EDITIONS_RIGHT = "rights.editions"
WORK = service.WORK_RE.pattern


class SeriesSchema(Schema):
    work = fields.String(required=True, validate=validate.Regexp(WORK),
                         metadata={"description": "composition:<id> or version:<composition>@<tag>"})
    count = fields.Integer(required=True, validate=validate.Range(min=1, max=100000))
    title = fields.String(load_default="", validate=validate.Length(max=200))


class IssueSchema(Schema):
    work = fields.String(required=True, validate=validate.Regexp(WORK))
    wp_user_id = fields.Integer(required=True, validate=validate.Range(min=1))
    number = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1))
    order_ref = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(r"^[A-Za-z0-9_.:-]{1,100}$"))


class OfferSchema(Schema):
    to_wp_user_id = fields.Integer(required=True, validate=validate.Range(min=1))


class DeliverySchema(Schema):
    track_id = fields.Integer(required=True, validate=validate.Range(min=1))
    format = fields.String(required=True, validate=validate.OneOf(sorted(service.FORMATS)))


class RangeArgs(Schema):
    start = fields.Integer(load_default=0, validate=validate.Range(min=0))
    end = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=0))


class InclusionArgs(Schema):
    index = fields.Integer(required=True, validate=validate.Range(min=0))
    size = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1))


class ConsistencyArgs(Schema):
    first = fields.Integer(required=True, validate=validate.Range(min=1))
    second = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1))


class CertificateArgs(Schema):
    work = fields.String(required=True, validate=validate.Regexp(WORK))
    number = fields.Integer(required=True, validate=validate.Range(min=1))
    older = fields.List(fields.Integer(validate=validate.Range(min=1)), load_default=list)


def _edition_out(row: Edition, work: str) -> dict:
    return {"id": row.id, "work": work, "number": row.number, "owner": row.owner, "order_ref": row.order_ref,
            "issued_at": row.issued_at.isoformat() + "Z"}


def _listener_owner() -> str:
    """The calling listener as an owner (``wp:<user>``): 401 without credentials, 403 for non-listeners."""
    ident = current_identity()
    if not ident.authenticated:
        raise Unauthorized("Sign in on the band's site first.", code="auth_required")
    if listener_id_of(ident) is None:
        raise Forbidden("Only listeners (signed in on the band's site) own editions.", code="not_a_listener")
    return service.owner_of_wp(ident.scopes["wp_user_id"])


def listener_first(view):
    """401/403 unless the caller is a listener, before the body is read (docs/rights.md)."""
    @functools.wraps(view)
    def guarded(*args, **kwargs):
        _listener_owner()
        return view(*args, **kwargs)

    return guarded


@blp.route("/detect")
class Detect(MethodView):
    @blp.doc(security=[{"bearer": []}], requestBody={
        "description": "The suspect audio: multipart/form-data with a 'file' field, or the raw bytes.",
        "content": {"multipart/form-data": {"schema": {"type": "object", "properties": {
            "file": {"type": "string", "format": "binary"}}}},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}})
    @blp.response(200)
    def post(self):
        """Search a file or clip for a delivery watermark: the delivery (buyer, order, time) or "no mark"."""
        require(DETECT_RIGHT)
        svc = services()
        with received(svc, svc.config.max_upload_bytes, prefix="detect-", what="the suspect file", refuse_empty=True) as up:
            return service.detect(svc, str(up.path))


class TraceArgs(Schema):
    track_id = fields.Integer(required=True, validate=validate.Range(min=1))


@blp.route("/trace")
class Trace(MethodView):
    @blp.doc(security=[{"bearer": []}], requestBody={
        "description": "A captured stream of a premium track (a few minutes): multipart/form-data with a 'file' "
                       "field, or the raw bytes.",
        "content": {"multipart/form-data": {"schema": {"type": "object", "properties": {
            "file": {"type": "string", "format": "binary"}}}},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}})
    @requires(DETECT_RIGHT)
    @blp.arguments(TraceArgs, location="query")
    @blp.response(200)
    def post(self, args):
        """Whose stream a capture is: the A/B variant of each segment read, matched against every listener's
        sequence for the track (?track_id=). The listener, or found: false."""
        svc = services()
        with received(svc, svc.config.max_upload_bytes, prefix="trace-", what="the suspect file", refuse_empty=True) as up:
            return service.trace_stream(svc, args["track_id"], str(up.path))


@blp.route("/deliveries")
class Deliveries(MethodView):
    @blp.doc(security=[{"bearer": []}])
    @listener_first
    @blp.arguments(DeliverySchema)
    @blp.response(202)
    @blp.alt_response(200, description="the marked copy is ready: its signed URL")
    def post(self, body):
        """The caller's own watermarked copy of a track in a format: a signed URL when it is ready
        (200), else a job that makes it (202). Needs the right to download the track."""
        from companion.access.delivery import Viewer
        from companion.catalog.models import Track
        from companion.tasks.service import create_job, submit

        ident = current_identity()
        listener_id = listener_id_of(ident)
        svc = services()
        viewer = Viewer.for_request()
        with svc.db.session() as s:
            track = s.get(Track, body["track_id"])
            if track is None or not viewer.sees_track(track):
                raise NotFound(f"no track {body['track_id']}", code="track_not_found")
            if not viewer.level(track).download:
                raise Forbidden("You may not download this track.", code="not_entitled")
            d = service.delivery_for(s, listener_id=listener_id, track_id=track.id, fmt=body["format"])
            delivery_id, key = d.id, d.key
        if key and svc.store.exists(key):
            return {"delivery_id": delivery_id, "url": viewer.signed_url(key, seconds=viewer.download_seconds)}, 200
        with svc.db.session() as s:
            job = create_job(s, kind="rights.mark", track_id=body["track_id"], params={"delivery_id": delivery_id},
                             created_by=ident.name)
            job_id = job.id
        submit(svc, job, "jobs.rights.mark_download")
        return {"delivery_id": delivery_id, "job_id": job_id, "job_url": f"/api/jobs/{job_id}"}, 202


@blp.route("/deliveries/<int:delivery_id>")
class DeliveryItem(MethodView):
    @blp.doc(security=[{"bearer": []}])
    @blp.response(200)
    def get(self, delivery_id):
        """The caller's marked copy: its signed URL once made (404 for anyone else's)."""
        from companion.access.delivery import Viewer

        ident = current_identity()
        if not ident.authenticated:
            raise Unauthorized("Sign in on the band's site first.", code="auth_required")
        svc = services()
        with svc.db.session() as s:
            d = s.get(Delivery, delivery_id)
            if d is None or d.listener_id != listener_id_of(ident):
                raise NotFound(f"no delivery {delivery_id}", code="delivery_not_found")
            key = d.key
        viewer = Viewer.for_request()
        return {"delivery_id": delivery_id, "ready": bool(key),
                "url": viewer.signed_url(key, seconds=viewer.download_seconds) if key else None}


# --- the log (public) -----------------------------------------------------------------------------

@blp.route("/log/head")
class Head(MethodView):
    @blp.response(200)
    def get(self):
        """The latest signed tree head (404 while the log is empty)."""
        with services().db.session() as s:
            head = service.latest_head(s)
        if head is None:
            raise NotFound("the log is empty", code="log_empty")
        return head


@blp.route("/log/key")
class Key(MethodView):
    @blp.response(200, content_type="application/x-pem-file")
    def get(self):
        """The band's Ed25519 public key (PEM), for the offline verifier."""
        return Response(service.public_key_pem(services().config), mimetype="application/x-pem-file")


@blp.route("/log/entries")
class Entries(MethodView):
    @blp.arguments(RangeArgs, location="query")
    @blp.response(200)
    def get(self, args):
        """Entries [start, end) of the log (at most 1,000)."""
        end = args["end"] if args["end"] is not None else args["start"] + 1000
        end = min(end, args["start"] + 1000)
        with services().db.session() as s:
            return {"start": args["start"], "entries": service.entries(s, args["start"], end)}


@blp.route("/log/export")
class Export(MethodView):
    @blp.response(200)
    def get(self):
        """The whole log with its latest signed head (the verifier's ``log`` input)."""
        with services().db.session() as s:
            return service.export(s)


@blp.route("/log/inclusion")
class Inclusion(MethodView):
    @blp.arguments(InclusionArgs, location="query")
    @blp.response(200)
    def get(self, args):
        """RFC 6962 inclusion proof of entry ``index`` in the tree of ``size`` (default: the latest head)."""
        with services().db.session() as s:
            head = service.latest_head(s) if args["size"] is None else service.head_at(s, args["size"])
            if head is None:
                raise NotFound("the log is empty", code="log_empty")
            t = service.tree(s)
            proof = t.inclusion(args["index"], head["size"])
            leaf = t.levels[0][args["index"]]
        return {"index": args["index"], "head": head, "leaf_hash": ledger.b64(leaf),
                "proof": [ledger.b64(p) for p in proof]}


@blp.route("/log/consistency")
class Consistency(MethodView):
    @blp.arguments(ConsistencyArgs, location="query")
    @blp.response(200)
    def get(self, args):
        """RFC 6962 consistency proof between two signed heads (default second: the latest)."""
        with services().db.session() as s:
            second = service.latest_head(s) if args["second"] is None else service.head_at(s, args["second"])
            if second is None:
                raise NotFound("the log is empty", code="log_empty")
            first = service.head_at(s, args["first"])
            proof = service.tree(s).consistency(first["size"], second["size"])
        return {"first": first, "second": second, "proof": [ledger.b64(p) for p in proof]}


# --- editions -------------------------------------------------------------------------------------

@blp.route("/series")
class Series(MethodView):
    @blp.doc(security=[{"bearer": []}])
    @requires(EDITIONS_RIGHT)
    @blp.arguments(SeriesSchema)
    @blp.response(201)
    def post(self, body):
        """Offer a work in ``count`` numbered editions (once; the count cannot change)."""
        ident = current_identity()
        svc = services()
        with svc.db.session() as s:
            row = service.create_series(s, svc.config, work=body["work"], count=body["count"], title=body["title"],
                                        by=ident.member_id or ident.name)
            return {"id": row.id, "work": row.work, "count": row.count, "title": row.title}, 201


@blp.route("/editions")
class Editions(MethodView):
    @blp.doc(security=[{"bearer": []}, {"signed": []}])
    @requires(EDITIONS_RIGHT)
    @blp.arguments(IssueSchema)
    @blp.response(201)
    def post(self, body):
        """Issue an edition to a fan (a WooCommerce order: the same order_ref returns the same edition)."""
        svc = services()
        with svc.db.session() as s:
            row = service.issue(s, svc.config, work=body["work"], owner=service.owner_of_wp(body["wp_user_id"]),
                                number=body["number"], order_ref=body["order_ref"])
            return _edition_out(row, body["work"]), 201


@blp.route("/editions/certificate")
class Certificate(MethodView):
    @blp.arguments(CertificateArgs, location="query")
    @blp.response(200)
    def get(self, args):
        """An edition's chain of custody with inclusion proofs (the verifier's ``edition`` input)."""
        with services().db.session() as s:
            return service.certificate(s, work=args["work"], number=args["number"], older=args["older"])


@blp.route("/editions/<int:edition_id>/transfers")
class Offer(MethodView):
    @blp.doc(security=[{"bearer": []}])
    @listener_first
    @blp.arguments(OfferSchema)
    @blp.response(201)
    def post(self, body, edition_id):
        """The owner offers their edition to another fan (the first consent)."""
        owner = _listener_owner()
        with services().db.session() as s:
            t = service.offer_transfer(s, edition_id=edition_id, by=owner, to=service.owner_of_wp(body["to_wp_user_id"]))
            return {"id": t.id, "edition_id": t.edition_id, "from": t.from_owner, "to": t.to_owner, "state": t.state}, 201


@blp.route("/transfers/<int:transfer_id>/accept")
class Accept(MethodView):
    @blp.doc(security=[{"bearer": []}])
    @blp.response(200)
    def post(self, transfer_id):
        """The recipient accepts (the second consent): the edition moves, and the log records it."""
        owner = _listener_owner()
        svc = services()
        with svc.db.session() as s:
            t = service.accept_transfer(s, svc.config, transfer_id=transfer_id, by=owner)
            return {"id": t.id, "edition_id": t.edition_id, "from": t.from_owner, "to": t.to_owner, "state": t.state,
                    "log_index": t.log_index}



# --- algorithm licences ---------------------------------------------------------------------------

LICENCES_RIGHT = "rights.licences"


class RevokeSchema(Schema):
    reason = fields.String(load_default="", validate=validate.Length(max=200))


class IssueLicenceSchema(Schema):
    member = fields.String(required=True, validate=validate.Length(min=1, max=40))
    tier = fields.String(required=True, validate=validate.OneOf(["non-commercial", "commercial"]))
    wp_user_id = fields.Integer(required=True, validate=validate.Range(min=1, max=2 ** 31 - 1))


def _licence_viewer():
    """(owner ``wp:<id>`` or None, may see all): a listener sees their own, the leader (``rights.licences``)
    all; 401 without credentials, 403 for a member without the right."""
    ident = current_identity()
    if not ident.authenticated:
        raise Unauthorized("Sign in on the band's site first.", code="auth_required")
    if listener_id_of(ident) is not None:
        return service.owner_of_wp(ident.scopes["wp_user_id"]), False
    require(LICENCES_RIGHT)
    return None, True


def _own_licence(s, licence_id: str):
    """The licence if the caller owns it (or is the leader); 404 for anyone else's (no hint it exists)."""
    from companion.rights import licence_store

    owner, everything = _licence_viewer()
    row = licence_store.get(s, licence_id)
    if not everything and row.owner != owner:
        raise NotFound(f"no licence {licence_id}", code="licence_not_found")
    return row


@blp.route("/licences")
class LicenceList(MethodView):
    @blp.doc(security=[{"bearer": []}])
    @blp.response(200)
    def get(self):
        """A listener's own algorithm licences; the leader (``rights.licences``) sees every licence."""
        from companion.rights import licence_store

        owner, _ = _licence_viewer()
        with services().db.session() as s:
            return {"licences": [licence_store.out(r) for r in licence_store.listing(s, owner)]}

    @blp.doc(security=[{"bearer": []}])
    @requires(LICENCES_RIGHT)
    @blp.arguments(IssueLicenceSchema)
    @blp.response(201)
    def post(self, body):
        """Issue a licence to a fan by hand (the leader; WooCommerce orders issue theirs by webhook)."""
        from companion.rights import licence_store

        svc = services()
        with svc.db.session() as s:
            row, _ = licence_store.issue(s, svc.config, member=body["member"], tier=body["tier"],
                                         owner=service.owner_of_wp(body["wp_user_id"]))
            return licence_store.out(row), 201


@blp.route("/licences/revocations")
class Revocations(MethodView):
    @blp.doc(security=[])
    @blp.response(200)
    def get(self):
        """The band's current signed revocation list (public: run.py and the verifier read it)."""
        from companion.rights import licence_store

        svc = services()
        with svc.db.session() as s:
            return licence_store.revocation_list(s, svc.config)


@blp.route("/licences/<string:licence_id>")
class LicenceFile(MethodView):
    @blp.doc(security=[{"bearer": []}])
    @blp.response(200, content_type="application/json")
    def get(self, licence_id):
        """The signed licence file (an attachment), for its owner only (404 for anyone else's)."""
        import json

        with services().db.session() as s:
            doc = _own_licence(s, licence_id).document
        return Response(json.dumps(doc, indent=2, sort_keys=True) + "\n", mimetype="application/json",
                        headers={"Content-Disposition": f'attachment; filename="licence-{licence_id}.json"'})


@blp.route("/licences/<string:licence_id>/package")
class LicencePackage(MethodView):
    @blp.doc(security=[{"bearer": []}])
    @blp.response(200, content_type="application/zip")
    def get(self, licence_id):
        """The package that generates music locally with the licensed algorithm (a zip: the vendored
        algorithm, the instrument definitions, the licence, the band's public key and run.py). The
        owner only; a revoked licence gets 409 ``licence_revoked``."""
        from companion.rights import package

        svc = services()
        with svc.db.session() as s:
            row = _own_licence(s, licence_id)
            if row.revoked_at is not None:
                raise Conflict(f"licence {licence_id} was revoked", code="licence_revoked")
            doc = row.document
        data = package.build(doc, public_key_pem=service.public_key_pem(svc.config))
        name = f"scripthammer-{doc['licence']['member']}-{licence_id}.zip"
        return Response(data, mimetype="application/zip",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})


@blp.route("/licences/<string:licence_id>/revoke")
class LicenceRevoke(MethodView):
    @blp.doc(security=[{"bearer": []}])
    @requires(LICENCES_RIGHT)
    @blp.arguments(RevokeSchema)
    @blp.response(200)
    def post(self, body, licence_id):
        """Revoke a licence (the leader): it joins the signed revocation list at once."""
        from companion.rights import licence_store

        ident = current_identity()
        with services().db.session() as s:
            row = licence_store.revoke(s, licence_id, by=ident.member_id or ident.name, reason=body["reason"])
            return licence_store.out(row)
