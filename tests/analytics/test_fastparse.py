"""The fast path (msgspec) never accepts what the schema (marshmallow) refuses, and gives the same batch:
random mutations of valid batches, each parsed both ways."""
from __future__ import annotations

import copy
import json
import random

import msgspec
import pytest

from companion.analytics import fastparse
from companion.analytics.service import parse_beacon
from companion.errors import ScriptHammerError

VALID = {"v": 1, "session": "sess-abcdef12", "seq": 3, "consent": True, "page": "https://x.example/a",
         "events": [{"type": "play", "track": 1, "pos": 0.0, "t": 1_700_000_000_000, "data": {"mode": "hls.js"}},
                    {"type": "seek", "track": 1, "pos": 12.5, "data": {"from": 3.0, "to": 12.5}},
                    {"type": "bitrate", "track": 2, "pos": 23.0, "data": {"level": 2, "bitrate": 192000}},
                    {"type": "download", "track": 1, "data": {"format": "flac"}},
                    {"type": "tip_click", "track": 1, "data": {"amount": 5, "currency": "USD"}},
                    {"type": "reaction", "track": 1, "pos": 3, "data": {"emoji": "fire", "text": "nice riff"}},
                    {"type": "exposure", "track": 1, "data": {"test": "a" * 32, "variation": "b"}},
                    {"type": "ui", "track": 1, "data": {"control": "visualizer"}},
                    {"type": "complete", "track": 1, "pos": 180, "data": {"duration": 180.0, "played": 170}}]}

ODD_VALUES = [None, True, False, 0, -1, 1.5, -0.0, 2**60, 1e308, "", "x", "1", "<b>", "fire", "a" * 300, [], {},
              {"from": 1}, "USD", "usd", "hls.js", 24 * 3600.0 + 1, 10**9 + 1, "sess-abcdef12", "a" * 32]
KEYS = ["v", "session", "seq", "consent", "page", "events", "type", "track", "pos", "t", "data", "from", "to",
        "level", "bitrate", "mode", "format", "amount", "currency", "emoji", "text", "test", "variation", "control",
        "played", "duration", "extra"]


def _mutate(body: dict, rng: random.Random) -> dict:
    b = copy.deepcopy(body)
    for _ in range(rng.randint(1, 3)):
        where = rng.choice(["top", "event", "data"])
        if where == "top":
            target = b
        elif not isinstance(b.get("events"), list) or not b["events"] or not isinstance(b["events"][0], dict):
            target = b
        else:
            ev = rng.choice(b["events"])
            if not isinstance(ev, dict):
                continue
            target = ev if where == "event" or not isinstance(ev.get("data"), dict) else ev["data"]
        op = rng.random()
        if op < 0.2 and target:
            target.pop(rng.choice(list(target)), None)
        else:
            target[rng.choice(KEYS)] = rng.choice(ODD_VALUES)
    return b


def _schema(payload):
    try:
        return ("ok", parse_beacon(payload))
    except ScriptHammerError as exc:
        return ("refused", exc.code)


def test_the_valid_batch_parses_the_same_both_ways():
    raw = json.dumps(VALID).encode()
    assert fastparse.parse(raw) == parse_beacon(json.loads(raw))


@pytest.mark.parametrize("seed", range(4))
def test_random_mutations_are_never_accepted_by_the_fast_path_alone(seed):
    rng = random.Random(seed)
    fast_accepted = 0
    for _ in range(600):
        body = _mutate(VALID, rng)
        raw = json.dumps(body).encode()
        try:
            fast = fastparse._as_dict(fastparse._decoder.decode(raw))
        except (msgspec.ValidationError, msgspec.DecodeError):
            fast = None
        schema = _schema(json.loads(raw))
        if fast is not None:
            fast_accepted += 1
            assert schema == ("ok", fast), (body, schema)
        # whatever the path, the endpoint's parse agrees with the schema
        try:
            got = ("ok", fastparse.parse(raw))
        except ScriptHammerError as exc:
            got = ("refused", exc.code)
        assert got == schema, body
    assert fast_accepted > 20   # the mutations do reach the fast path's acceptance, not only its refusals
