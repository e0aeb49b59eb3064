"""marshmallow's fields, with the two the API's schemas need bounded or explicit.

Every API schema imports ``from companion import schema_fields as fields`` instead of marshmallow's
module, so these hold at the root rather than field by field:

- :class:`Integer` (and ``Int``) accepts only what a database BIGINT holds (-2^63 .. 2^63-1) and the
  OpenAPI document says so (minimum/maximum), on top of any narrower range a field declares: an id of
  2^70 in a query or a body is a 422, never a driver's overflow (a 500).
- :class:`DateTime` writes naive datetimes (the database keeps UTC without a zone) as UTC with an
  explicit offset, so every ``format: date-time`` value is a valid RFC 3339 date-time.

Path parameters get the same bound from :class:`BoundedIntConverter`, the app's ``int`` converter.
"""
from __future__ import annotations

import datetime as dt

from marshmallow import Schema, validate
from marshmallow.fields import *  # noqa: F401,F403 - the rest of marshmallow's fields, unchanged
from marshmallow.fields import DateTime as _DateTime
from marshmallow.fields import Dict, String
from marshmallow.fields import Integer as _Integer
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import CombinedMultiDict
from werkzeug.routing import IntegerConverter

INT_MIN = -(2 ** 63)
INT_MAX = 2 ** 63 - 1


class Integer(_Integer):
    """An integer a BIGINT column can hold (narrower ``validate=Range(...)`` still apply)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.validators.append(validate.Range(min=INT_MIN, max=INT_MAX))


Int = Integer


class DateTime(_DateTime):
    """ISO 8601 with an offset: a naive value (UTC in the database) is written as UTC."""

    def _serialize(self, value, attr, obj, **kwargs):
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return super()._serialize(value, attr, obj, **kwargs)


class ErrorSchema(Schema):
    """The one JSON error shape (companion/errors.py's ``error_body`` and ``ScriptHammerError.to_dict``),
    as the OpenAPI document declares it for every error response."""

    status = Integer(required=True, validate=validate.Range(400, 599), metadata={"description": "the HTTP status"})
    code = String(required=True, metadata={"description": "a short machine-readable code, e.g. not_found"})
    message = String(required=True, metadata={"description": "what went wrong, for a person"})
    details = Dict(required=True, metadata={"description": "more about it (fields, limits, retry_after_seconds...)"})


class BoundedIntConverter(IntegerConverter):
    """Flask's ``<int:...>`` with a maximum of 2^63-1: a larger id matches no route (404)."""

    def __init__(self, map, fixed_digits=0, min=None, max=INT_MAX, signed=False):  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=INT_MAX if max is None else max, signed=signed)


class MultipartFormParser(FlaskParser):
    """webargs' Flask parser whose "form" location holds a multipart body's files too, so a blueprint
    using it (``blp.ARGUMENTS_PARSER = MultipartFormParser()``) declares an upload and its fields in
    one schema: one ``multipart/form-data`` request body in the OpenAPI document."""

    def load_form(self, req, schema):
        return self._makeproxy(CombinedMultiDict([req.form, req.files]), schema)
