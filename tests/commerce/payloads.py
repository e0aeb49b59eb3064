"""WooCommerce documents in the shape of its REST API v3 (what webhooks carry and reconciliation reads):
an order and a WooCommerce Subscriptions subscription, with the fields the companion reads and the
usual others around them. ``line_items[].scripthammer_scope`` is what the ScriptHammer plugin adds.

Recorded documents from the real WooCommerce 7.9 / Subscriptions 6.3.2 are in recorded/ (see
test_recorded.py); these builders make variations of the same shape."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import itertools
import json

_ids = itertools.count(9000)


def gmt(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def line_item(product_id: int, scope: str | None, *, total: str = "7.00", days: int | None = None,
              name: str = "Fractal Funk") -> dict:
    item = {"id": next(_ids), "name": name, "product_id": product_id, "variation_id": 0, "quantity": 1,
            "tax_class": "", "subtotal": total, "subtotal_tax": "0.00", "total": total, "total_tax": "0.00",
            "taxes": [], "meta_data": [], "sku": "", "price": float(total), "image": {"id": "", "src": ""},
            "parent_name": None}
    if scope is not None:
        item["scripthammer_scope"] = scope
    if days is not None:
        item["scripthammer_days"] = days
    return item


def order(order_id: int, status: str, items: list[dict], *, customer_id: int = 42,
          modified: dt.datetime | None = None, paid: dt.datetime | None = None) -> dict:
    modified = modified or dt.datetime(2026, 12, 1, 10, 0, 0)
    paid_s = gmt(paid) if paid else (gmt(modified) if status in ("processing", "completed") else None)
    return {"id": order_id, "parent_id": 0, "status": status, "currency": "USD", "version": "7.9.0",
            "prices_include_tax": False, "date_created": gmt(modified), "date_modified": gmt(modified),
            "discount_total": "0.00", "total": "7.00", "total_tax": "0.00", "customer_id": customer_id,
            "order_key": f"wc_order_{order_id}", "billing": {"first_name": "Fan", "email": "fan@example.test"},
            "shipping": {}, "payment_method": "cod", "payment_method_title": "Cash on delivery",
            "transaction_id": "", "created_via": "checkout", "customer_note": "", "date_completed": None,
            "date_paid": paid_s, "cart_hash": "", "number": str(order_id), "meta_data": [], "line_items": items,
            "tax_lines": [], "shipping_lines": [], "fee_lines": [], "coupon_lines": [], "refunds": [],
            "payment_url": "", "is_editable": False, "needs_payment": False, "needs_processing": False,
            "date_created_gmt": gmt(modified), "date_modified_gmt": gmt(modified), "date_completed_gmt": None,
            "date_paid_gmt": paid_s, "currency_symbol": "$", "_links": {}}


def subscription(sub_id: int, status: str, items: list[dict], *, customer_id: int = 42,
                 modified: dt.datetime | None = None, next_payment: dt.datetime | None = None,
                 end: dt.datetime | None = None, start: dt.datetime | None = None) -> dict:
    doc = order(sub_id, status, items, customer_id=customer_id, modified=modified)
    start = start or dt.datetime(2026, 11, 1, 10, 0, 0)
    doc.update({"billing_period": "month", "billing_interval": "1", "start_date_gmt": gmt(start),
                "trial_end_date_gmt": "", "next_payment_date_gmt": gmt(next_payment) if next_payment else "",
                "last_payment_date_gmt": gmt(start), "cancelled_date_gmt": "",
                "end_date_gmt": gmt(end) if end else "", "resubscribed_from": "", "resubscribed_subscription": "",
                "removed_line_items": []})
    return doc


def body_of(doc: dict) -> bytes:
    """As WooCommerce sends it: trim(wp_json_encode($payload)) (slashes escaped, like PHP)."""
    return json.dumps(doc, separators=(",", ":")).replace("/", "\\/").encode()


def signature(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def headers(secret: str, body: bytes, topic: str, *, delivery: str | None = None, webhook_id: int = 3) -> dict:
    """WooCommerce's delivery headers (WC_Webhook::deliver)."""
    resource, _, event = topic.partition(".")
    return {"Content-Type": "application/json", "User-Agent": "WooCommerce/7.9.0 Hookshot (WordPress/6.1.1)",
            "X-WC-Webhook-Source": "http://shop.example.test/", "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Resource": resource, "X-WC-Webhook-Event": event,
            "X-WC-Webhook-Signature": signature(secret, body), "X-WC-Webhook-ID": str(webhook_id),
            "X-WC-Webhook-Delivery-ID": delivery or hashlib.md5(body).hexdigest()}
