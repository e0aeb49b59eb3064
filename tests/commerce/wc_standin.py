"""TEST STAND-IN for WooCommerce's REST API (not WooCommerce): a small real HTTP server that answers
GET /wp-json/wc/v3/orders and /subscriptions with documents in WooCommerce's shape, pages them
(X-WP-Total, X-WP-TotalPages), filters on modified_after (with dates_are_gmt), and checks each request's
OAuth 1.0a signature the way WooCommerce does (WC_REST_Authentication::check_oauth_signature: HMAC of
METHOD&rawurlencode(url)&sorted, RFC 3986 encoded parameters with the consumer secret + "&"), its
15-minute window and its nonces. The real plugin is exercised in tests/wordpress with
SCRIPTHAMMER_WP_EXTRA_PLUGINS."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, urlsplit


def _rfc3986(value: str) -> str:
    return quote(value, safe="~")


def oauth_signature(method: str, url: str, params: dict, consumer_secret: str) -> str:
    """WooCommerce's expected signature for ``params`` (without oauth_signature)."""
    algo = params.get("oauth_signature_method", "HMAC-SHA256").replace("HMAC-", "").lower()
    pairs = [_rfc3986(f"{_rfc3986(k)}={_rfc3986(v)}") for k, v in sorted(params.items())]
    to_sign = f"{method}&{_rfc3986(url)}&{'%26'.join(pairs)}"
    return base64.b64encode(hmac.new((consumer_secret + "&").encode(), to_sign.encode(),
                                     getattr(hashlib, algo)).digest()).decode()


class WooCommerceStandin:
    """Documents by collection; ``requests`` records what the companion asked for."""

    def __init__(self, consumer_key: str = "ck_standin", consumer_secret: str = "cs_standin", *,
                 subscriptions: bool = True):
        self.consumer_key, self.consumer_secret = consumer_key, consumer_secret
        self.collections: dict[str, dict[int, dict]] = {"orders": {}}
        if subscriptions:
            self.collections["subscriptions"] = {}
        self.requests: list[dict] = []
        self.nonces: set[str] = set()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def put(self, collection: str, doc: dict) -> None:
        self.collections[collection][int(doc["id"])] = doc

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _send(self, status: int, body, headers: dict | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802
                parts = urlsplit(self.path)
                params = dict(parse_qsl(parts.query, keep_blank_values=True))
                standin.requests.append({"path": parts.path, "params": dict(params)})
                error = standin._check_oauth("GET", f"{standin.url}{parts.path}", params)
                if error:
                    return self._send(401, {"code": "woocommerce_rest_authentication_error", "message": error,
                                            "data": {"status": 401}})
                prefix = "/wp-json/wc/v3/"
                name = parts.path[len(prefix):] if parts.path.startswith(prefix) else ""
                if name not in standin.collections:
                    return self._send(404, {"code": "rest_no_route", "message": "No route was found.",
                                            "data": {"status": 404}})
                docs = sorted(standin.collections[name].values(), key=lambda d: d["id"])
                if params.get("modified_after"):
                    docs = [d for d in docs if d["date_modified_gmt"] > params["modified_after"]]
                per_page, page = int(params.get("per_page", 10)), int(params.get("page", 1))
                total_pages = max(1, -(-len(docs) // per_page))
                chunk = docs[(page - 1) * per_page: page * per_page]
                return self._send(200, chunk, {"X-WP-Total": str(len(docs)), "X-WP-TotalPages": str(total_pages)})

        return Handler

    def _check_oauth(self, method: str, url: str, params: dict) -> str | None:
        given = params.pop("oauth_signature", None)
        if params.get("oauth_consumer_key") != self.consumer_key or not given:
            return "Consumer key is invalid."
        ts = int(params.get("oauth_timestamp", "0") or 0)
        if abs(time.time() - ts) > 15 * 60:
            return "Invalid timestamp."
        nonce = params.get("oauth_nonce", "")
        if nonce in self.nonces:
            return "Invalid nonce - nonce has already been used."
        if not hmac.compare_digest(oauth_signature(method, url, params, self.consumer_secret), given):
            return "Invalid signature - provided signature does not match."
        self.nonces.add(nonce)
        return None
