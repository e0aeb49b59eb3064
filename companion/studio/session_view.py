"""The studio's page of a live session, /studio/session/<id>: the shared studio view (studio/src/session.js).
The page is public HTML; everything it shows comes from GET /api/live/sessions/<id>/view with the
member's or guest's token (read from the URL fragment, never sent to the server in the address)."""
from __future__ import annotations

import json

from flask import Response, render_template

from ..errors import NotFound
from .api import DIST_DIR, _HTML_PAGE, blp


@blp.route("/studio/session/<int:session_id>")
@blp.doc(responses=_HTML_PAGE)
def session_page(session_id: int):
    """The shared studio view of live session ``session_id`` (its token travels in the URL fragment)."""
    if not (DIST_DIR / "session.js").exists():
        raise NotFound("the studio is not built: run npm run build in studio/ (scripts/setup.sh)",
                       code="studio_not_built")
    manifest = json.loads((DIST_DIR / "manifest.json").read_text())
    html = render_template("studio/session.html", session_id=session_id,
                           version=manifest.get("session.js", {}).get("sha256", "")[:12],
                           css_version=manifest.get("studio.css", {}).get("sha256", "")[:12])
    return Response(html, mimetype="text/html", headers={"Cache-Control": "no-store",
                                                         "Referrer-Policy": "no-referrer"})
