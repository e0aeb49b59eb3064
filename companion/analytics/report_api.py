"""/api/analytics: per-day figures of the site, a track or an album (JSON or CSV), the per-second heat map
over a track's waveform (JSON with the waveform's envelope, or CSV), the heat map of interactions with the
player, and a summary of every track and album. For the band (band.read_private): the same figures the
wp-admin dashboard draws with its charts (it fetches the JSON and CSV with its signed request).

The figures come from the rollups (companion/analytics/rollups.py) for the days that are rolled, and
from the events for the others; ``fresh=true`` reads today from the events."""
from __future__ import annotations

import csv
import datetime as dt
import io

import sqlalchemy as sa
from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from companion.access.guard import requires
from companion.analytics import rollups
from companion.analytics.metrics import HEAT_KINDS
from companion.catalog.models import Album, Track
from companion.live.models import LiveBroadcast, LiveSession
from companion.errors import NotFound
from companion.services import current as services

blp = Blueprint("analytics_reports", __name__, url_prefix="/api/analytics",
                description="Listening figures by day, heat maps over the waveform, player interactions.")

MAX_DAYS = 366


class RangeQuerySchema(Schema):
    start = fields.Date(data_key="from", load_default=None)
    end = fields.Date(data_key="to", load_default=None)
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "csv")))
    fresh = fields.Boolean(load_default=False)

    @validates_schema
    def _order(self, data, **_kw):
        start, end = _span(data)
        if start > end:
            raise ValidationError({"from": ["after 'to'"]})
        if (end - start).days >= MAX_DAYS:
            raise ValidationError({"from": [f"at most {MAX_DAYS} days at once"]})


def _span(q: dict) -> tuple[dt.date, dt.date]:
    end = q.get("end") or dt.datetime.now(dt.timezone.utc).date()
    start = q.get("start") or end - dt.timedelta(days=29)
    return start, end


def _track(s, track_id: int) -> Track:
    t = s.get(Track, track_id)
    if t is None:
        raise NotFound(f"no track {track_id}", code="track_not_found")
    return t


COLUMNS = ("day", "plays", "plays_30s", "listeners", "completions", "completion_rate", "skips", "avg_listened_s",
           "tip_clicks", "tips", "tips_amount", "purchases", "purchases_amount", "downloads")
#: the columns whose value is a mapping ({format: n}, {currency: amount}): written "key=value;key=value"
_MAPPED = ("downloads", "tips_amount", "purchases_amount")


def _cell(c: str, value):
    if c in ("tips_amount", "purchases_amount"):
        return ";".join(f"{k}={v:.2f}" for k, v in sorted(value.items()))
    if c in _MAPPED:
        return ";".join(f"{k}={v}" for k, v in sorted(value.items()))
    return "" if value is None else value


def _csv(rows: list[dict], name: str) -> Response:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(COLUMNS)
    for r in rows:
        w.writerow([_cell(c, r[c]) for c in COLUMNS])
    return _csv_response(buf.getvalue(), name)


def _csv_response(text: str, name: str) -> Response:
    return Response(text, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"', "Cache-Control": "no-store"})


def _track_daily(query, track_id) -> tuple[Track, list[dict], dt.date, dt.date]:
    start, end = _span(query)
    with services().db.session() as s:
        t = _track(s, track_id)
        rows = rollups.daily(s, [track_id], start, end, fresh=query["fresh"])
    return t, rows, start, end


def _album_daily(query, album_id) -> tuple[Album, list[int], list[dict], dt.date, dt.date]:
    start, end = _span(query)
    with services().db.session() as s:
        album = s.get(Album, album_id)
        if album is None:
            raise NotFound(f"no album {album_id}", code="album_not_found")
        ids = list(s.scalars(sa.select(Track.id).where(Track.album_id == album_id).order_by(Track.id)))
        rows = rollups.daily(s, ids or [-1], start, end, fresh=query["fresh"])
    return album, ids, rows, start, end


def _performance(s, session_id: int) -> tuple[int, str]:
    """A performance (a live session whose recording was released as a track): its track's id and its
    title (its broadcast's, else the track's)."""
    row = s.get(LiveSession, session_id)
    track = s.get(Track, row.track_id) if row is not None and row.track_id is not None else None
    if track is None:
        raise NotFound(f"no released performance {session_id}", code="performance_not_found")
    title = s.scalar(sa.select(LiveBroadcast.title).where(LiveBroadcast.session_id == session_id)
                     .order_by(LiveBroadcast.id).limit(1))
    return track.id, title or track.title


def _performance_track(session_id: int) -> tuple[int, str]:
    with services().db.session() as s:
        return _performance(s, session_id)


def _site_daily(query) -> tuple[list[int], list[dict], dt.date, dt.date]:
    start, end = _span(query)
    with services().db.session() as s:
        ids = list(s.scalars(sa.select(Track.id).order_by(Track.id)))
        rows = rollups.daily(s, ids or [-1], start, end, fresh=query["fresh"])
    return ids, rows, start, end


def _interactions(query, track_ids: list[int]) -> dict:
    """How often each player control was used over the range, on these tracks."""
    start, end = _span(query)
    with services().db.session() as s:
        return rollups.interactions(s, track_ids or [-1], start, end, fresh=query["fresh"])


def _track_heat(query, track_id) -> tuple[Track, dict, dt.date, dt.date]:
    start, end = _span(query)
    with services().db.session() as s:
        t = _track(s, track_id)
        out = rollups.heatmap(s, track_id, start, end, duration=t.duration, fresh=query["fresh"])
        out["interactions"] = rollups.interactions(s, [track_id], start, end, fresh=query["fresh"])
    return t, out, start, end


#: at most this many points of a track's waveform envelope in a heat map's answer (about one per pixel)
WAVE_POINTS = 1000


def _waveform(track: Track) -> dict | None:
    """The envelope of the track's real waveform, from its coarsest peaks (audiowaveform JSON), for the heat
    map to be drawn over: ``min`` and ``max`` in [-1, 1] (scaled to the loudest peak, as the player draws
    it), one point every ``seconds_per_point`` from 0, at most WAVE_POINTS; ``pixels``: the peaks' own
    length. None when the track has no peaks (yet)."""
    import json

    docs = sorted(track.peaks or [], key=lambda p: -int(p.get("samples_per_pixel") or 0))
    for p in docs:
        try:
            doc = json.loads(services().store.get_bytes(p["key"]))
        except Exception:  # noqa: BLE001 - a missing peaks file: the heat map is drawn without the waveform
            continue
        data = doc.get("data") or []
        channels = max(1, int(doc.get("channels") or 1))
        if not data:
            continue
        # multichannel peaks interleave (min, max) per channel: fold them into one envelope
        step = 2 * channels
        mins = [min(data[i:i + step:2]) for i in range(0, len(data) - step + 1, step)]
        maxs = [max(data[i + 1:i + step:2]) for i in range(0, len(data) - step + 1, step)]
        scale = float(max([1] + [abs(v) for v in data]))
        per = max(1, -(-len(maxs) // WAVE_POINTS))  # peaks pixels per point (ceil)
        px_s = float(doc.get("samples_per_pixel") or 256) / float(doc.get("sample_rate") or 44100)
        return {"pixels": len(maxs), "seconds_per_point": round(per * px_s, 6),
                "min": [round(min(mins[i:i + per]) / scale, 3) for i in range(0, len(mins), per)],
                "max": [round(max(maxs[i:i + per]) / scale, 3) for i in range(0, len(maxs), per)]}
    return None


CSV = {"200": {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}}}


#: the daily figures' answer: JSON, or CSV with format=csv
JSON_OR_CSV = {"200": {"description": "The figures (JSON, or CSV with format=csv)",
                       "content": {"application/json": {"schema": {"type": "object"}},
                                   "text/csv": {"schema": {"type": "string"}}}}}


@blp.route("/tracks/<int:track_id>/daily")
class TrackDaily(MethodView):
    @blp.doc(security=[{"bearer": []}, {"signed": []}])
    @requires("band.read_private")
    @blp.arguments(RangeQuerySchema, location="query")
    @blp.doc(responses=JSON_OR_CSV)
    def get(self, query, track_id):
        """A track's figures per day (``from``/``to``, UTC, default the last 30 days; ``format=csv``)."""
        t, rows, start, end = _track_daily(query, track_id)
        if query["format"] == "csv":
            return _csv(rows, f"track-{track_id}-{start}-{end}")
        return {"track_id": track_id, "title": t.title, "from": start.isoformat(), "to": end.isoformat(),
                "days": rows, "interactions": _interactions(query, [track_id])}


@blp.route("/albums/<int:album_id>/daily")
class AlbumDaily(MethodView):
    @blp.doc(security=[{"bearer": []}, {"signed": []}])
    @requires("band.read_private")
    @blp.arguments(RangeQuerySchema, location="query")
    @blp.doc(responses=JSON_OR_CSV)
    def get(self, query, album_id):
        """An album's figures per day: its tracks together (listeners distinct across them)."""
        a, ids, rows, start, end = _album_daily(query, album_id)
        if query["format"] == "csv":
            return _csv(rows, f"album-{album_id}-{start}-{end}")
        return {"album_id": album_id, "title": a.title, "track_ids": ids, "from": start.isoformat(),
                "to": end.isoformat(), "days": rows, "interactions": _interactions(query, ids)}


@blp.route("/site/daily")
class SiteDaily(MethodView):
    @blp.doc(security=[{"bearer": []}, {"signed": []}])
    @requires("band.read_private")
    @blp.arguments(RangeQuerySchema, location="query")
    @blp.doc(responses=JSON_OR_CSV)
    def get(self, query):
        """The whole site's figures per day: every track together (listeners distinct across them), and the
        player controls used."""
        ids, rows, start, end = _site_daily(query)
        if query["format"] == "csv":
            return _csv(rows, f"site-{start}-{end}")
        return {"from": start.isoformat(), "to": end.isoformat(), "days": rows,
                "interactions": _interactions(query, ids)}


@blp.route("/tracks/<int:track_id>/heatmap")
class TrackHeatmap(MethodView):
    @blp.doc(security=[{"bearer": []}, {"signed": []}])
    @requires("band.read_private")
    @blp.arguments(RangeQuerySchema, location="query")
    @blp.response(200)
    def get(self, query, track_id):
        """Per second of the track: starts, seeks, replays, drop-offs and reactions, the envelope of the
        track's real waveform to draw them over (``waveform``: ``min``/``max`` every ``seconds_per_point``;
        null without peaks), and the player controls used."""
        t, out, start, end = _track_heat(query, track_id)
        return dict(out, **{"title": t.title, "from": start.isoformat(), "to": end.isoformat(),
                            "waveform": _waveform(t)})


def _route(path: str, responses: dict):
    """A GET of the band (band.read_private) with the range query; the class's ``get(self, query, **ids)``."""
    def wrap(cls):
        cls.get = blp.doc(security=[{"bearer": []}, {"signed": []}])(requires("band.read_private")(
            blp.arguments(RangeQuerySchema, location="query")(blp.doc(responses=responses)(cls.get))))
        return blp.route(path)(cls)
    return wrap


@_route("/tracks/<int:track_id>/daily.csv", CSV)
class TrackDailyCsv(MethodView):
    def get(self, query, track_id):
        """A track's figures per day as CSV (one row per day)."""
        _t, rows, start, end = _track_daily(query, track_id)
        return _csv(rows, f"track-{track_id}-{start}-{end}")


@_route("/albums/<int:album_id>/daily.csv", CSV)
class AlbumDailyCsv(MethodView):
    def get(self, query, album_id):
        """An album's figures per day as CSV."""
        _a, _ids, rows, start, end = _album_daily(query, album_id)
        return _csv(rows, f"album-{album_id}-{start}-{end}")


@blp.route("/performances/<int:session_id>/daily")
class PerformanceDaily(MethodView):
    @blp.doc(security=[{"bearer": []}, {"signed": []}])
    @requires("band.read_private")
    @blp.arguments(RangeQuerySchema, location="query")
    @blp.doc(responses=JSON_OR_CSV)
    def get(self, query, session_id):
        """A performance's figures per day: those of its released recording (``track_id``)."""
        track_id, title = _performance_track(session_id)
        _t, rows, start, end = _track_daily(query, track_id)
        if query["format"] == "csv":
            return _csv(rows, f"performance-{session_id}-{start}-{end}")
        return {"session_id": session_id, "track_id": track_id, "title": title, "from": start.isoformat(),
                "to": end.isoformat(), "days": rows, "interactions": _interactions(query, [track_id])}


@blp.route("/performances/<int:session_id>/heatmap")
class PerformanceHeatmap(MethodView):
    @blp.doc(security=[{"bearer": []}, {"signed": []}])
    @requires("band.read_private")
    @blp.arguments(RangeQuerySchema, location="query")
    @blp.response(200)
    def get(self, query, session_id):
        """A performance's heat map: its released recording's, over that recording's waveform."""
        track_id, title = _performance_track(session_id)
        t, out, start, end = _track_heat(query, track_id)
        return dict(out, **{"session_id": session_id, "title": title, "from": start.isoformat(),
                            "to": end.isoformat(), "waveform": _waveform(t)})


@_route("/performances/<int:session_id>/daily.csv", CSV)
class PerformanceDailyCsv(MethodView):
    def get(self, query, session_id):
        """A performance's figures per day as CSV."""
        track_id, _title = _performance_track(session_id)
        _t, rows, start, end = _track_daily(query, track_id)
        return _csv(rows, f"performance-{session_id}-{start}-{end}")


@_route("/performances/<int:session_id>/heatmap.csv", CSV)
class PerformanceHeatmapCsv(MethodView):
    def get(self, query, session_id):
        """A performance's heat map per second as CSV."""
        track_id, _title = _performance_track(session_id)
        return _heat_csv(query, track_id, f"performance-{session_id}-heatmap")


@_route("/site/daily.csv", CSV)
class SiteDailyCsv(MethodView):
    def get(self, query):
        """The whole site's figures per day as CSV."""
        _ids, rows, start, end = _site_daily(query)
        return _csv(rows, f"site-{start}-{end}")


@_route("/tracks/<int:track_id>/heatmap.csv", CSV)
class TrackHeatmapCsv(MethodView):
    def get(self, query, track_id):
        """The per-second heat map as CSV (one row per second of the track)."""
        return _heat_csv(query, track_id, f"track-{track_id}-heatmap")


def _heat_csv(query, track_id: int, name: str) -> Response:
    _t, h, start, end = _track_heat(query, track_id)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(("second",) + HEAT_KINDS)
    for i in range(h["seconds"]):
        w.writerow([i] + [h[k][i] for k in HEAT_KINDS])
    return _csv_response(buf.getvalue(), f"{name}-{start}-{end}")


@_route("/summary", {"200": {"description": "Totals per track, album and performance over the range",
                             "content": {"application/json": {"schema": {"type": "object"}}}}})
class Summary(MethodView):
    def get(self, query):
        """Every track, album and performance (a live session released as a track) with its totals over the range (``listeners``: the daily unique listeners
        summed: the pseudonymous ids change every day, so listeners are not distinct across days)."""
        start, end = _span(query)
        tracks, albums, performances = [], [], []
        with services().db.session() as s:
            all_tracks = list(s.scalars(sa.select(Track).order_by(Track.album_id, Track.track_number, Track.id)))
            names = {a.id: a.title for a in s.scalars(sa.select(Album).order_by(Album.id))}
            per_album: dict[int, list[int]] = {}
            for t in all_tracks:
                rows = rollups.daily(s, [t.id], start, end, fresh=query["fresh"])
                tracks.append({"id": t.id, "title": t.title, "album_id": t.album_id, **_totals(rows)})
                if t.album_id is not None:
                    per_album.setdefault(t.album_id, []).append(t.id)
            for album_id, title in names.items():
                ids = per_album.get(album_id, [])
                rows = rollups.daily(s, ids or [-1], start, end, fresh=query["fresh"])
                albums.append({"id": album_id, "title": title, "track_ids": ids, **_totals(rows)})
            by_track = {t["id"]: t for t in tracks}
            for session_id in s.scalars(sa.select(LiveSession.id).where(LiveSession.track_id.is_not(None))
                                        .order_by(LiveSession.id)):
                try:
                    track_id, title = _performance(s, session_id)
                except NotFound:  # its track was deleted
                    continue
                totals = {k: v for k, v in by_track[track_id].items() if k not in ("id", "title", "album_id")}
                performances.append({"id": session_id, "title": title, "track_id": track_id, **totals})
        return {"from": start.isoformat(), "to": end.isoformat(), "tracks": tracks, "albums": albums,
                "performances": performances}


def _totals(rows: list[dict]) -> dict:
    out = {k: sum(r[k] for r in rows) for k in ("plays", "plays_30s", "listeners", "completions", "skips",
                                                 "tip_clicks", "tips", "purchases")}
    out["downloads"] = sum(sum(r["downloads"].values()) for r in rows)
    for k in ("tips_amount", "purchases_amount"):
        amounts: dict[str, float] = {}
        for r in rows:
            for currency, v in r[k].items():
                amounts[currency] = round(amounts.get(currency, 0.0) + v, 2)
        out[k] = amounts
    out["completion_rate"] = round(out["completions"] / out["plays"], 4) if out["plays"] else None
    return out
