"""A WordPress site seen by the companion: REST (posts and meta) and XML-RPC (media library),
signed in as a dedicated user with an Application Password (never a person's login password).

Errors are typed: :class:`WordPressUnavailable` (down, timeouts, 5xx) and :class:`WordPressAuthError`
(wrong user or password) are transient and retried by the publish job; :class:`WordPressRejected`
(WordPress refused the content) is permanent.
"""
from __future__ import annotations

import json
import xmlrpc.client
from typing import Any
from urllib.parse import urlsplit

import requests

from companion.band.signing import sign
from companion.errors import ScriptHammerError


class WordPressError(ScriptHammerError):
    """Base of WordPress failures; ``code`` is short and stable, ``message`` is for people, ``wp_status``
    is WordPress's own HTTP status when it answered. Unavailable and refused credentials are transient:
    the publish job records them and lets RQ retry (jobs/publish.py)."""

    status = 502
    code = "wordpress_error"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message, code=code, details={"wordpress_status": status} if status else None)
        self.wp_status = status


class WordPressUnavailable(WordPressError):
    status = 503
    code = "wordpress_unavailable"


class WordPressAuthError(WordPressError):
    status = 502
    code = "wordpress_auth_failed"


class WordPressNotConfigured(ScriptHammerError):
    status = 503
    code = "wordpress_not_configured"


class WordPressRejected(ScriptHammerError):
    """WordPress refused the content itself (4xx other than 401/403/404): retrying will not help."""

    status = 502
    code = "wordpress_rejected"


#: REST base of each post type the plugin registers.
REST_BASES = {"track": "sh-tracks", "album": "sh-albums", "performance": "sh-performances",
              "composition": "sh-compositions"}


class WordPressClient:
    """One WordPress site, one publishing user."""

    def __init__(self, url: str, user: str, app_password: str, *, timeout: float = 20.0,
                 session: requests.Session | None = None):
        if not url or not user or not app_password:
            raise WordPressNotConfigured(
                "WordPress publishing is not configured: set SCRIPTHAMMER_WP_URL, SCRIPTHAMMER_WP_USER and "
                "SCRIPTHAMMER_WP_APP_PASSWORD (an Application Password of a dedicated user).")
        self.url = url.rstrip("/")
        self.user = user
        self.app_password = app_password
        self.timeout = timeout
        self.http = session or requests.Session()
        self.http.auth = (user, app_password)
        self.http.headers["User-Agent"] = "ScriptHammer-companion"

    @classmethod
    def from_config(cls, config) -> "WordPressClient":
        return cls(config.wp_url, config.wp_user, config.wp_app_password)

    # --- REST ----------------------------------------------------------------------------------
    def rest_url(self, route: str, **params: Any) -> str:
        """A REST URL that works with plain and pretty permalinks (/?rest_route=...)."""
        query = "".join(f"&{k}={requests.utils.quote(str(v), safe=',')}" for k, v in params.items() if v is not None)
        return f"{self.url}/?rest_route={route}{query}"

    def rest(self, method: str, route: str, *, json: dict | None = None, expect=(200, 201),
             params: dict | None = None, allow_404: bool = False) -> Any:
        try:
            r = self.http.request(method, self.rest_url(route, **(params or {})), json=json, timeout=self.timeout)
        except requests.RequestException as exc:
            raise WordPressUnavailable(f"WordPress at {self.url} cannot be reached: {type(exc).__name__}") from exc
        if r.status_code in expect:
            return r.json()
        if r.status_code == 404 and allow_404:
            return None
        self._raise_for(r)

    def _raise_for(self, r: requests.Response) -> None:
        try:
            body = r.json()
        except ValueError:
            body = {}
        detail = body.get("message") if isinstance(body, dict) else None
        code = body.get("code") if isinstance(body, dict) else None
        if r.status_code in (401, 403):
            raise WordPressAuthError(
                f"WordPress refused the publishing user {self.user!r} ({r.status_code}"
                f"{': ' + detail if detail else ''}). Check SCRIPTHAMMER_WP_USER and its Application Password.",
                status=r.status_code)
        if r.status_code >= 500 or r.status_code in (408, 429):
            raise WordPressUnavailable(f"WordPress answered {r.status_code}{': ' + detail if detail else ''}",
                                       status=r.status_code)
        raise WordPressRejected(f"WordPress refused the request ({r.status_code} {code or ''}): {detail or r.text[:300]}",
                                details={"status": r.status_code, "wp_code": code})

    def find_post(self, kind: str, item_id: int) -> dict | None:
        """The oldest post (any status but trash) whose companion id is ``item_id``."""
        posts = self.rest("GET", f"/wp/v2/{REST_BASES[kind]}", params={
            "companion_id": item_id, "status": "publish,draft,pending,private,future", "context": "edit",
            "orderby": "id", "order": "asc", "per_page": 5})
        return posts[0] if posts else None

    def get_post(self, kind: str, post_id: int) -> dict | None:
        post = self.rest("GET", f"/wp/v2/{REST_BASES[kind]}/{post_id}", params={"context": "edit"}, allow_404=True)
        if post is None or post.get("status") == "trash":
            return None
        return post

    def save_post(self, kind: str, post_id: int | None, fields: dict) -> dict:
        route = f"/wp/v2/{REST_BASES[kind]}" + (f"/{post_id}" if post_id else "")
        return self.rest("POST", route, json=fields)

    def media_exists(self, media_id: int) -> bool:
        return self.rest("GET", f"/wp/v2/media/{media_id}", params={"context": "edit"}, allow_404=True) is not None

    # --- XML-RPC ------------------------------------------------------------------------------
    def xmlrpc(self):
        from wordpress_xmlrpc import Client

        return Client(f"{self.url}/xmlrpc.php", self.user, self.app_password)

    def upload_media(self, name: str, mime: str, data: bytes) -> dict:
        """Put a file in the media library (XML-RPC wp.uploadFile); returns {id, url, ...}."""
        from wordpress_xmlrpc.methods.media import UploadFile

        try:
            result = self.xmlrpc().call(UploadFile({"name": name, "type": mime, "bits": xmlrpc.client.Binary(data),
                                                    "overwrite": False}))
        except xmlrpc.client.Fault as exc:
            if exc.faultCode in (401, 403):
                raise WordPressAuthError(f"WordPress refused the upload: {exc.faultString}", status=exc.faultCode) from exc
            raise WordPressRejected(f"WordPress refused the cover art: {exc.faultString}") from exc
        except (OSError, xmlrpc.client.ProtocolError, requests.RequestException) as exc:
            raise WordPressUnavailable(f"WordPress at {self.url} cannot be reached for uploads: {exc}") from exc
        except Exception as exc:  # wordpress_xmlrpc wraps faults in its own exception types
            name_ = type(exc).__name__
            if "InvalidCredentials" in name_:
                raise WordPressAuthError(f"WordPress refused the publishing user {self.user!r} for uploads.") from exc
            raise
        return {"id": int(result["id"]), "url": result.get("url") or result.get("link")}

    # --- the plugin's signed namespace --------------------------------------------------------
    def signed(self, secret: str, method: str, route: str, payload: dict | None = None) -> requests.Response:
        """A request to scripthammer/v1 signed with the shared secret (no Application Password)."""
        body = b"" if payload is None else json.dumps(payload).encode()
        req = requests.Request(method, f"{self.url}/?rest_route=/scripthammer/v1{route}", data=body or None,
                               headers={"Content-Type": "application/json"} if body else {}).prepare()
        parts = urlsplit(req.url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        req.headers.update(sign(secret, method, path, body))
        try:
            return requests.Session().send(req, timeout=self.timeout)
        except requests.RequestException as exc:
            raise WordPressUnavailable(f"WordPress at {self.url} cannot be reached: {type(exc).__name__}") from exc

