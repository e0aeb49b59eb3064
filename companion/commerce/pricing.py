"""Price models per content type: a minimum, name-your-price above it, and bundles (docs/pricing.md).

The effective configuration is, first found: what the leader saved (``PUT /api/pricing``, one row of
``commerce_pricing``), the TOML file ``Config.pricing_file``, the defaults below. Every source goes
through :func:`validate`, which either returns a clean copy or raises InvalidInput naming every bad
field; nothing is stored unless all of it is valid.

Shape::

    currency = "USD"
    [models.track]      # track, album, edition, live, licence
    minimum = "1.00"    # never less; 0 makes it free (with a "pay what you want" field above)
    suggested = "1.50"  # the amount the store fills in
    name_your_price = true
    [licence_tiers.commercial]   # algorithm licence tiers: price, seats, term
    minimum = "150.00"
    seats = 5
    days = 365
    [[bundles]]
    id = "all-algorithms-non-commercial"
    name = "Every member's algorithm (non-commercial)"
    items = ["licence:ivory:non-commercial", ...]   # licence:<member>:<tier>, track:<id>, album:<id>
    discount_percent = 40

An album is the bundle of its tracks: its price is the sum of its tracks' minimums less
``models.album.bundle_discount_percent``, never under the album minimum (:func:`album_price`).
"""
from __future__ import annotations

import copy
import re
import tomllib
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from companion.algorithms.registry import MEMBERS
from companion.errors import InvalidInput

CONTENT_TYPES = ("track", "album", "edition", "live", "licence")
TIERS = ("non-commercial", "commercial")
#: the currencies WooCommerce's default list and the payment gateways commonly take
CURRENCIES = frozenset("USD EUR GBP JPY CAD AUD NZD CHF SEK NOK DKK PLN CZK HUF MXN BRL INR ZAR SGD HKD KRW".split())
MAX_AMOUNT = Decimal("100000")
ITEM_RE = re.compile(r"^(licence:(?P<member>[a-z]{1,40}):(?P<tier>[a-z-]{1,20})|track:[1-9][0-9]{0,9}|album:[1-9][0-9]{0,9})$")
BUNDLE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")
ROW_ID = 1

DEFAULTS: dict = {
    "currency": "USD",
    "models": {
        "track": {"minimum": "1.00", "suggested": "1.50", "name_your_price": True},
        "album": {"minimum": "7.00", "suggested": "10.00", "name_your_price": True, "bundle_discount_percent": 30},
        "edition": {"minimum": "25.00", "suggested": "40.00", "name_your_price": True},
        "live": {"minimum": "0.00", "suggested": "5.00", "name_your_price": True},
        "licence": {"minimum": "15.00", "suggested": "20.00", "name_your_price": True},
    },
    "licence_tiers": {
        "non-commercial": {"minimum": "15.00", "seats": 1, "days": 365},
        "commercial": {"minimum": "150.00", "seats": 5, "days": 365},
    },
    "bundles": [
        {"id": "all-algorithms-non-commercial", "name": "Every member's algorithm, non-commercial",
         "items": [f"licence:{m}:non-commercial" for m in MEMBERS], "discount_percent": 40},
        {"id": "all-algorithms-commercial", "name": "Every member's algorithm, commercial",
         "items": [f"licence:{m}:commercial" for m in MEMBERS], "discount_percent": 40},
    ],
}


def _money(value, where: str, errors: dict) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        errors[where] = "an amount: a number or a string like \"1.50\""
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        errors[where] = "an amount: a number or a string like \"1.50\""
        return None
    if not amount.is_finite() or amount < 0:
        errors[where] = "an amount of 0 or more"
        return None
    if amount > MAX_AMOUNT:
        errors[where] = f"at most {MAX_AMOUNT}"
        return None
    if amount != amount.quantize(Decimal("0.01")):
        errors[where] = "at most two decimals"
        return None
    return str(amount.quantize(Decimal("0.01")))


def _int(value, where: str, low: int, high: int, errors: dict) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        errors[where] = f"a whole number from {low} to {high}"
        return None
    return value


def validate(doc, *, exists=None) -> dict:
    """A clean copy of a pricing configuration, or InvalidInput ``bad_pricing`` with every problem in
    ``details.fields``. ``exists(item)`` says whether a ``track:<id>``/``album:<id>`` bundle item exists
    (licence items are checked against the band's members and the tiers)."""
    errors: dict[str, str] = {}
    if not isinstance(doc, dict):
        raise InvalidInput("The pricing configuration is a JSON object.", code="bad_pricing")
    unknown = set(doc) - {"currency", "models", "licence_tiers", "bundles"}
    for k in sorted(unknown):
        errors[k] = "unknown field"
    out: dict = {}
    currency = doc.get("currency", DEFAULTS["currency"])
    if not isinstance(currency, str) or currency not in CURRENCIES:
        errors["currency"] = f"one of {', '.join(sorted(CURRENCIES))}"
    out["currency"] = currency
    models_in = doc.get("models", DEFAULTS["models"])
    out["models"] = {}
    if not isinstance(models_in, dict):
        errors["models"] = "an object with " + ", ".join(CONTENT_TYPES)
        models_in = {}
    for k in sorted(set(models_in) - set(CONTENT_TYPES)):
        errors[f"models.{k}"] = f"not a content type ({', '.join(CONTENT_TYPES)})"
    for kind in CONTENT_TYPES:
        m = models_in.get(kind, DEFAULTS["models"][kind])
        where = f"models.{kind}"
        if not isinstance(m, dict):
            errors[where] = "an object with minimum, suggested and name_your_price"
            continue
        for k in sorted(set(m) - {"minimum", "suggested", "name_your_price", "bundle_discount_percent"}):
            errors[f"{where}.{k}"] = "unknown field"
        minimum = _money(m.get("minimum"), f"{where}.minimum", errors)
        suggested = _money(m.get("suggested", m.get("minimum")), f"{where}.suggested", errors)
        nyp = m.get("name_your_price", True)
        if not isinstance(nyp, bool):
            errors[f"{where}.name_your_price"] = "true or false"
        if minimum is not None and suggested is not None and Decimal(suggested) < Decimal(minimum):
            errors[f"{where}.suggested"] = "at least the minimum"
        clean = {"minimum": minimum, "suggested": suggested, "name_your_price": nyp}
        if "bundle_discount_percent" in m or kind == "album":
            clean["bundle_discount_percent"] = _int(m.get("bundle_discount_percent", 0),
                                                    f"{where}.bundle_discount_percent", 0, 90, errors)
        out["models"][kind] = clean
    tiers_in = doc.get("licence_tiers", DEFAULTS["licence_tiers"])
    out["licence_tiers"] = {}
    if not isinstance(tiers_in, dict):
        errors["licence_tiers"] = "an object with " + " and ".join(TIERS)
        tiers_in = {}
    for k in sorted(set(tiers_in) - set(TIERS)):
        errors[f"licence_tiers.{k}"] = f"not a tier ({', '.join(TIERS)})"
    for tier in TIERS:
        t = tiers_in.get(tier, DEFAULTS["licence_tiers"][tier])
        where = f"licence_tiers.{tier}"
        if not isinstance(t, dict):
            errors[where] = "an object with minimum, seats and days"
            continue
        for k in sorted(set(t) - {"minimum", "seats", "days"}):
            errors[f"{where}.{k}"] = "unknown field"
        out["licence_tiers"][tier] = {
            "minimum": _money(t.get("minimum"), f"{where}.minimum", errors),
            "seats": _int(t.get("seats", 1), f"{where}.seats", 1, 10000, errors),
            "days": None if t.get("days") is None else _int(t.get("days"), f"{where}.days", 1, 36500, errors)}
    bundles_in = doc.get("bundles", DEFAULTS["bundles"])
    out["bundles"] = []
    if not isinstance(bundles_in, list) or len(bundles_in) > 100:
        errors["bundles"] = "a list of at most 100 bundles"
        bundles_in = []
    seen: set[str] = set()
    for i, b in enumerate(bundles_in):
        where = f"bundles[{i}]"
        if not isinstance(b, dict):
            errors[where] = "an object with id, name, items and discount_percent"
            continue
        for k in sorted(set(b) - {"id", "name", "items", "discount_percent"}):
            errors[f"{where}.{k}"] = "unknown field"
        bid = b.get("id")
        if not isinstance(bid, str) or not BUNDLE_ID_RE.match(bid):
            errors[f"{where}.id"] = "lowercase letters, digits and dashes (1-60)"
        elif bid in seen:
            errors[f"{where}.id"] = "used twice"
        else:
            seen.add(bid)
        name = b.get("name", bid)
        if not isinstance(name, str) or not 0 < len(name) <= 200:
            errors[f"{where}.name"] = "a name of 1 to 200 characters"
        items = b.get("items")
        if not isinstance(items, list) or not 2 <= len(items) <= 500:
            errors[f"{where}.items"] = "a list of 2 to 500 items"
            items = []
        for j, item in enumerate(items):
            m = ITEM_RE.match(item) if isinstance(item, str) else None
            if m is None:
                errors[f"{where}.items[{j}]"] = "licence:<member>:<tier>, track:<id> or album:<id>"
            elif item.startswith("licence:"):
                if m["member"] not in MEMBERS or m["tier"] not in TIERS:
                    errors[f"{where}.items[{j}]"] = f"no such licence ({item})"
            elif exists is not None and not exists(item):
                errors[f"{where}.items[{j}]"] = f"no such {item.split(':')[0]} ({item})"
        if isinstance(items, list) and len(set(map(str, items))) != len(items):
            errors[f"{where}.items"] = "an item is listed twice"
        discount = _int(b.get("discount_percent", 0), f"{where}.discount_percent", 0, 90, errors)
        out["bundles"].append({"id": bid, "name": name, "items": list(items), "discount_percent": discount})
    if errors:
        raise InvalidInput("The pricing configuration is not valid: see details.fields.", code="bad_pricing",
                           details={"fields": errors})
    return out


def catalog_exists(s: Session):
    """``exists(item)`` for :func:`validate`: tracks and albums in the catalog."""
    from companion.catalog.models import Album, Track

    def exists(item: str) -> bool:
        kind, _, ident = item.partition(":")
        model = {"track": Track, "album": Album}.get(kind)
        return model is not None and s.get(model, int(ident)) is not None

    return exists


def from_file(path: str | Path) -> dict:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput(f"The pricing file {path} cannot be read: {exc}", code="bad_pricing") from None
    return validate(data)


def current(s: Session, config=None) -> dict:
    """The effective pricing: saved by the leader, else ``Config.pricing_file``, else the defaults."""
    from companion.commerce.models import PricingConfig

    row = s.get(PricingConfig, ROW_ID)
    if row is not None:
        return copy.deepcopy(row.config)
    path = getattr(config, "pricing_file", "") if config is not None else ""
    if path:
        return from_file(path)
    return validate(copy.deepcopy(DEFAULTS))


def source(s: Session, config=None) -> str:
    from companion.commerce.models import PricingConfig

    if s.get(PricingConfig, ROW_ID) is not None:
        return "saved"
    return "file" if getattr(config, "pricing_file", "") else "defaults"


def save(s: Session, doc, *, by: str) -> dict:
    """Validate ``doc`` whole and store it (InvalidInput, nothing stored, when any part is wrong)."""
    from companion.commerce.models import PricingConfig
    from companion.db import utcnow

    clean = validate(doc, exists=catalog_exists(s))
    row = s.get(PricingConfig, ROW_ID)
    if row is None:
        row = PricingConfig(id=ROW_ID, config=clean, updated_by=by)
        s.add(row)
    else:
        row.config, row.updated_by, row.updated_at = clean, by, utcnow()
    s.flush()
    return clean


def reset(s: Session) -> None:
    from companion.commerce.models import PricingConfig

    s.execute(sa.delete(PricingConfig).where(PricingConfig.id == ROW_ID))


def album_price(pricing: dict, track_count: int) -> str:
    """An album as the bundle of its tracks: their minimums less the album discount, never under the
    album minimum."""
    track_min = Decimal(pricing["models"]["track"]["minimum"])
    album = pricing["models"]["album"]
    off = Decimal(100 - int(album.get("bundle_discount_percent") or 0)) / 100
    price = (track_min * max(0, int(track_count)) * off).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return str(max(price, Decimal(album["minimum"])))


def licence_price(pricing: dict, tier: str) -> str:
    return pricing["licence_tiers"][tier]["minimum"]


def bundle_price(pricing: dict, bundle_id: str, item_price=None) -> str:
    """A bundle's price: the sum of its items' minimums less its discount. ``item_price(item)`` prices
    track and album items (default: the content type's minimum)."""
    bundle = next((b for b in pricing["bundles"] if b["id"] == bundle_id), None)
    if bundle is None:
        from companion.errors import NotFound

        raise NotFound(f"no bundle {bundle_id}", code="bundle_not_found")
    total = Decimal(0)
    for item in bundle["items"]:
        if item.startswith("licence:"):
            total += Decimal(licence_price(pricing, item.rsplit(":", 1)[1]))
        elif item_price is not None:
            total += Decimal(item_price(item))
        else:
            total += Decimal(pricing["models"][item.split(":")[0]]["minimum"])
    off = Decimal(100 - int(bundle["discount_percent"] or 0)) / 100
    return str((total * off).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def licence_products(pricing: dict) -> list[dict]:
    """One WooCommerce product per member algorithm and tier: what the plugin creates and prices
    (``licence`` is the line items' ``scripthammer_licence``)."""
    nyp = bool(pricing["models"]["licence"]["name_your_price"])
    out = []
    for member in MEMBERS:
        for tier in TIERS:
            t = pricing["licence_tiers"][tier]
            out.append({"licence": f"{member}:{tier}", "member": member, "name": member.title(), "tier": tier,
                        "price": t["minimum"], "seats": t["seats"], "days": t["days"], "name_your_price": nyp})
    return out


def priced(pricing: dict) -> dict:
    """The configuration with computed prices for its bundles and the licence products (what
    GET /api/pricing shows)."""
    out = copy.deepcopy(pricing)
    for b in out["bundles"]:
        b["price"] = bundle_price(pricing, b["id"])
    out["licence_products"] = licence_products(pricing)
    return out
