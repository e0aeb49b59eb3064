"""The locust user of bench/load.py: a listener's traffic as a weighted mix of requests.

The plan (a JSON list of {"name", "weight", "method", "path", "body"}) comes from the file named by
SHM_LOAD_PLAN; bench/load.py writes it. Each user sends requests back to back (no think time), so
the number of users sets the offered load.
"""
from __future__ import annotations

import json
import os
import random

from locust import FastHttpUser, constant, task

with open(os.environ["SHM_LOAD_PLAN"], encoding="utf-8") as fh:
    PLAN = json.load(fh)
WEIGHTS = [p["weight"] for p in PLAN]


class Listener(FastHttpUser):
    wait_time = constant(0)

    @task
    def one(self):
        p = random.choices(PLAN, weights=WEIGHTS)[0]
        kwargs = {"name": p["name"]}
        if p.get("body") is not None:
            kwargs["data"] = p["body"]
            kwargs["headers"] = {"Content-Type": "application/json"}
        with self.client.request(p["method"], p["path"], catch_response=True, **kwargs) as resp:
            if resp.status_code != p.get("status", 200):
                resp.failure(f"status {resp.status_code}")
            else:
                resp.success()
