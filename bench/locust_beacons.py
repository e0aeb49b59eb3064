"""The locust load of bench/analytics.py: players sending full beacon batches (100 events) as fast as the
companion answers. Each simulated player has its own session and numbers its batches (seq), as the
real player does; its address is the machine's, so the bench raises the beacon rate limit.

Environment: BENCH_TRACK_ID (a released track), BENCH_EVENTS (events per batch, default 100), BENCH_USER_RATE
(batches per second per player, paced with locust's constant_throughput; unset or 0: as fast as answered)."""
from __future__ import annotations

import json
import os
import random
import time
import uuid

from locust import FastHttpUser, constant_throughput, events, task

TRACK = int(os.environ.get("BENCH_TRACK_ID", "1"))
PER_BATCH = int(os.environ.get("BENCH_EVENTS", "100"))
RATE = float(os.environ.get("BENCH_USER_RATE") or 0)
KINDS = ("play", "progress", "progress", "progress", "seek", "pause", "reaction", "complete")
ACCEPTED = {"events": 0, "batches": 0, "refused": 0, "ids": []}


@events.test_stop.add_listener
def _report(environment, **_kw):
    path = os.environ.get("BENCH_COUNTS")
    if path:
        with open(path, "w") as fh:
            json.dump(ACCEPTED, fh)


class Player(FastHttpUser):
    if RATE:
        wait_time = constant_throughput(RATE)

    def on_start(self):
        self.session = uuid.uuid4().hex[:24]
        self.seq = 0
        self.rng = random.Random(self.session)

    def _batch(self) -> str:
        now = int(time.time() * 1000)
        evs = []
        for i in range(PER_BATCH):
            kind = KINDS[i % len(KINDS)]
            pos = round(self.rng.uniform(0, 180), 2)
            ev = {"type": kind, "track": TRACK, "pos": pos, "t": now}
            if kind == "progress":
                ev["data"] = {"played": 10.0}
            elif kind == "seek":
                ev["data"] = {"from": round(self.rng.uniform(0, 180), 2), "to": pos}
            elif kind == "reaction":
                ev["data"] = {"emoji": "fire"}
            elif kind == "complete":
                ev["data"] = {"duration": 180.0}
            evs.append(ev)
        self._sent = f"{self.session}.{self.seq}"
        body = {"v": 1, "session": self.session, "seq": self.seq, "page": "https://band.example/song/", "events": evs}
        self.seq += 1
        return json.dumps(body, separators=(",", ":"))

    @task
    def send(self):
        with self.client.post("/api/beacons", data=self._batch(), headers={"Content-Type": "text/plain"},
                              name="beacon batch", catch_response=True) as r:
            if r.status_code == 202:
                ACCEPTED["events"] += r.json()["accepted"]
                ACCEPTED["batches"] += 1
                ACCEPTED["ids"].append(self._sent)
                r.success()
            else:
                ACCEPTED["refused"] += 1
                r.failure(f"{r.status_code}: {r.text[:200]}")
