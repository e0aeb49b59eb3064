"""WooCommerce's REST API (v3) through the ``woocommerce`` Python client (the design card's choice).

The companion only reads: orders and subscriptions, page by page. A read-only consumer key is enough
(WooCommerce → Settings → Advanced → REST API). Over HTTPS the client sends the key with HTTP basic
auth; over plain HTTP it signs each request with OAuth 1.0a, which WooCommerce checks. WooCommerce's
REST API lives under /wp-json/, so the site needs pretty permalinks (WooCommerce requires them).
"""
from __future__ import annotations

from typing import Iterator

import requests

from companion.errors import ServiceUnavailable


class WooCommerceUnavailable(ServiceUnavailable):
    """WooCommerce down, slow or refusing the key: transient (jobs/commerce.py lets RQ retry the run)."""

    code = "woocommerce_unavailable"


class WooCommerceNotConfigured(ServiceUnavailable):
    code = "woocommerce_not_configured"


class WooCommerce:
    """A read-only view of one store's orders and subscriptions."""

    def __init__(self, url: str, consumer_key: str, consumer_secret: str, *, timeout: float = 20.0):
        from woocommerce import API

        if not url or not consumer_key or not consumer_secret:
            raise WooCommerceNotConfigured(
                "Reconciling with WooCommerce needs SCRIPTHAMMER_WC_URL (or SCRIPTHAMMER_WP_URL), "
                "SCRIPTHAMMER_WC_CONSUMER_KEY and SCRIPTHAMMER_WC_CONSUMER_SECRET (a read-only REST API key).")
        self.url = url.rstrip("/")
        self.api = API(url=self.url, consumer_key=consumer_key, consumer_secret=consumer_secret,
                       version="wc/v3", timeout=timeout, user_agent="ScriptHammer-companion")

    @classmethod
    def from_config(cls, config) -> "WooCommerce":
        return cls(config.wc_url or config.wp_url, config.wc_consumer_key, config.wc_consumer_secret,
                   timeout=float(config.wc_timeout))

    def _get(self, endpoint: str, params: dict) -> requests.Response:
        try:
            r = self.api.get(endpoint, params=dict(params))
        except requests.RequestException as exc:
            raise WooCommerceUnavailable(f"WooCommerce at {self.url} cannot be reached: {type(exc).__name__}") from exc
        if r.status_code in (401, 403):
            raise WooCommerceUnavailable(
                f"WooCommerce refused the REST API key ({r.status_code}): check SCRIPTHAMMER_WC_CONSUMER_KEY "
                "and _SECRET, and that the key may read.", code="woocommerce_auth_failed")
        return r

    def pages(self, endpoint: str, params: dict | None = None, *, per_page: int = 50) -> Iterator[tuple[list, int, int]]:
        """(documents, page, total pages) of a collection, oldest id first. A missing collection (e.g.
        subscriptions without WooCommerce Subscriptions: 404) yields nothing."""
        page = 1
        while True:
            r = self._get(endpoint, {**(params or {}), "per_page": per_page, "page": page, "orderby": "id",
                                     "order": "asc"})
            if r.status_code == 404:
                return
            if r.status_code != 200:
                raise WooCommerceUnavailable(f"WooCommerce answered {r.status_code} for {endpoint}: {r.text[:200]}")
            try:
                docs = r.json()
            except ValueError:
                raise WooCommerceUnavailable(f"WooCommerce sent something that is not JSON for {endpoint}.") from None
            if not isinstance(docs, list):
                raise WooCommerceUnavailable(f"WooCommerce's {endpoint} is not a list.")
            total = max(1, int(r.headers.get("X-WP-TotalPages") or 1))
            yield docs, page, total
            if page >= total or not docs:
                return
            page += 1
