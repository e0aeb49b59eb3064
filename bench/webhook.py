"""Benchmark: a WooCommerce webhook's "verify and enqueue" (issue 9's webhook_ms, goal < 20 ms).

A live companion (the Flask app under werkzeug's threaded server on 127.0.0.1, a real redis-server, a
SQLite database in a scratch folder) receives signed WooCommerce deliveries of distinct orders over
HTTP: the signature is checked over the raw body, the body is kept once (its SHA-256 unique) with a
job row, and the job is put on RQ. Its anchor, in the same run and through the same server: the same
deliveries signed with a wrong secret (refused with 401 before anything is parsed or stored), so the
ratio shows what verifying, storing and enqueueing add to an HTTP round trip. Medians of the rounds;
CPU seconds of this process (client and server) beside wall time.

``measure(rounds=...)`` returns the figures (bench/access.py can call it and copy "webhook_ms").
The last line printed is one JSON object. Run: .venv/bin/python bench/webhook.py [--rounds 300]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(port: int) -> None:
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing on port {port}")


def _order(order_id: int) -> dict:
    """A completed order buying one track, in WooCommerce's REST v3 shape (as the plugin annotates it)."""
    stamp = "2026-12-01T10:00:00"
    return {"id": order_id, "parent_id": 0, "status": "completed", "currency": "USD", "customer_id": 4200 + order_id % 50,
            "date_created_gmt": stamp, "date_modified_gmt": stamp, "date_paid_gmt": stamp, "total": "7.00",
            "billing": {"first_name": "Fan", "email": "fan@example.test"}, "payment_method": "cod",
            "line_items": [{"id": order_id * 10, "name": "Fractal Funk", "product_id": 501, "variation_id": 0,
                            "quantity": 1, "subtotal": "7.00", "total": "7.00", "meta_data": [],
                            "scripthammer_scope": f"track:{1 + order_id % 9}"}],
            "refunds": [], "meta_data": [], "_links": {}}


def measure(rounds: int = 300, warmup: int = 20) -> dict:
    """Start a companion, post ``rounds`` signed and ``rounds`` forged deliveries; the figures."""
    from werkzeug.serving import make_server

    from companion import create_app
    from companion.band.service import seed_members
    from companion.commerce.webhooks import signature_of, webhook_secret
    from companion.config import Config
    from companion.db import upgrade
    from jobs import context

    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log line per request
    exe = shutil.which("redis-server")
    if exe is None:
        raise SystemExit("redis-server is not installed")
    tmp = Path(tempfile.mkdtemp(prefix="shm-bench-webhook-"))
    redis_port, http_port = _free_port(), _free_port()
    redis = subprocess.Popen([exe, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                              "--dir", str(tmp)], stdout=subprocess.DEVNULL)
    server = None
    try:
        _wait(redis_port)
        cfg = Config(var_dir=tmp / "var", redis_url=f"redis://127.0.0.1:{redis_port}/0", queue_name="bench-webhooks",
                     wp_shared_secret="bench-shared-secret", public_url=f"http://127.0.0.1:{http_port}")
        upgrade(cfg.database_url)
        context.configure(cfg)
        svc = context.services()
        with svc.db.session() as s:
            seed_members(s, svc.band)
        app = create_app(cfg)
        server = make_server("127.0.0.1", http_port, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        _wait(http_port)
        url = f"http://127.0.0.1:{http_port}/api/commerce/woocommerce/webhook"
        secret = webhook_secret(cfg)
        http = requests.Session()

        def post(order_id: int, key: str) -> tuple[float, int]:
            body = json.dumps(_order(order_id), separators=(",", ":")).encode()
            headers = {"Content-Type": "application/json", "X-WC-Webhook-Topic": "order.updated",
                       "X-WC-Webhook-Resource": "order", "X-WC-Webhook-Event": "updated", "X-WC-Webhook-ID": "3",
                       "X-WC-Webhook-Delivery-ID": f"d{order_id}", "X-WC-Webhook-Signature": signature_of(key, body)}
            t0 = time.perf_counter()
            r = http.post(url, data=body, headers=headers, timeout=30)
            return (time.perf_counter() - t0) * 1000, r.status_code

        for i in range(warmup):  # connections, caches, SQLite pages
            post(900000 + i, secret)
            post(950000 + i, "wrong")
        accepted, refused, statuses = [], [], set()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for i in range(rounds):  # interleaved, so both sides see the same machine
            ms, code = post(1 + i, secret)
            accepted.append(ms)
            statuses.add(code)
            ms, code = post(500000 + i, "wrong")
            refused.append(ms)
            statuses.add(code)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        queued = svc.queue("commerce").count
        p = lambda xs, q: statistics.quantiles(xs, n=100)[q - 1]  # noqa: E731
        return {
            "webhook_ms": round(statistics.median(accepted), 2),
            "webhook_p99_ms": round(p(accepted, 99), 2),
            "refused_ms": round(statistics.median(refused), 2),
            "ratio": round(statistics.median(accepted) / statistics.median(refused), 3),
            "rounds": rounds, "statuses": sorted(statuses), "jobs_queued": queued,
            "cpu_s": round(cpu, 3), "wall_s": round(wall, 3),
            "cores": os.cpu_count(), "python": platform.python_version(),
            "load_avg_1m": round(os.getloadavg()[0], 2), "database": "sqlite", "server": "werkzeug threaded",
        }
    finally:
        if server is not None:
            server.shutdown()
        redis.terminate()
        redis.wait(10)
        context.configure(None)
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=300)
    args = ap.parse_args()
    out = measure(args.rounds)
    print(f"verify + store + enqueue, over HTTP: p50 {out['webhook_ms']} ms (p99 {out['webhook_p99_ms']} ms); "
          f"a forged delivery refused: p50 {out['refused_ms']} ms; {out['jobs_queued']} jobs queued")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
