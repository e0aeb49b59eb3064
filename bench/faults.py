"""Benchmark: jobs survive faults (issue 15's jobs_lost, jobs_duplicated, recovery_s).

A companion on this machine with services of the run's own: a redis-server with the append-only file
(fsync always) and a PostgreSQL cluster (initdb + pg_ctl on a free port in a scratch folder; as the
postgres user when run as root), the local object store, and real worker processes
(`scripthammer worker --queues publish,commerce,default`). WooCommerce webhook deliveries of distinct
orders (each a job that grants one entitlement) are sent to the app while, in turn:

1. Redis is killed (SIGKILL) and started again;
2. PostgreSQL is restarted (fast shutdown);
3. the worker is SIGKILLed with its work horse and a new one started.

A delivery answered 503 is sent again, as WooCommerce does, until it is accepted. Then:

- "jobs_lost": accepted deliveries whose entitlement is missing or whose job did not finish (goal 0);
- "jobs_duplicated": entitlements or deliveries beyond one per order (goal 0);
- "recovery_s": the longest time, after Redis or PostgreSQL was back (its own start command returned),
  until the companion accepted a delivery again (goal < 5). Its anchor, measured in the same run: how
  long the service itself took to answer (redis PING, a PostgreSQL connection) after that; the
  companion's recovery minus the service's is what the companion adds.

"schemathesis_5xx" and "fuzz_crashes_open" come from functions other parts of issue 15 add:
``bench.schemathesis_run.count_5xx()`` and ``bench.fuzz.crashes_open()`` are called when those modules
exist; until then the keys are null. CPU seconds of this process (client, app, test harness) beside
wall time. The last line printed is one JSON object.

Run: .venv/bin/python bench/faults.py [--orders 90]
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import resource
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _optional(module: str, func: str):
    """The figure another part of issue 15 computes, or None while its module does not exist."""
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return None
    return getattr(mod, func)()


def measure(orders: int = 90) -> dict:
    import redis as redis_lib
    import sqlalchemy as sa

    from companion import create_app
    from companion.access.models import Entitlement
    from companion.commerce.models import WebhookDelivery
    from companion.commerce.webhooks import webhook_secret
    from companion.tasks.models import Job
    from tests.commerce import payloads
    from tests.conftest import build_config, prepare, stop_group
    from tests.faults.conftest import FAST_RECOVERY, OwnRedis
    from tests.faults.pg import OwnPostgres
    from tests.faults.procs import sigkill_group, start_worker, wait_until

    scratch = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    rds, pg = OwnRedis(scratch / "redis"), OwnPostgres()
    rds.start()
    pg.start()
    workers = []
    try:
        cfg = build_config(scratch, pg.create_database("companion"), rds.url, **FAST_RECOVERY)
        prepare(cfg)
        app = create_app(cfg)
        client, svc = app.test_client(), app.extensions["scripthammer"]
        secret = webhook_secret(cfg)
        log = scratch / "workers.log"
        workers.append(start_worker(cfg, "publish,commerce,default", log))

        accepted: dict[int, str] = {}

        def deliver(order_id: int) -> bool:
            doc = payloads.order(order_id, "completed", [payloads.line_item(500 + order_id, f"track:{order_id}")],
                                 customer_id=1000 + order_id)
            body = payloads.body_of(doc)
            r = client.post("/api/commerce/woocommerce/webhook", data=body,
                            headers=payloads.headers(secret, body, "order.updated", delivery=f"d-{order_id}"))
            if r.status_code == 202:
                accepted[order_id] = r.get_json()["job_id"]
                return True
            if r.status_code == 200 and r.get_json().get("status") == "duplicate":
                return True
            assert r.status_code == 503, (r.status_code, r.get_json())  # only ever a clean "try again"
            return False

        def until_accepted(order_id: int, deadline: float = 60) -> float:
            t0 = time.perf_counter()
            while not deliver(order_id):
                if time.perf_counter() - t0 > deadline:
                    raise TimeoutError(f"order {order_id} never accepted")
                time.sleep(0.05)
            return time.perf_counter() - t0

        def redis_ready() -> float:
            t0 = time.perf_counter()
            wait_until(lambda: _ping(lambda: redis_lib.Redis.from_url(rds.url, socket_connect_timeout=1).ping()), 30,
                       interval=0.01)
            return time.perf_counter() - t0

        def pg_ready() -> float:
            t0 = time.perf_counter()
            eng = sa.create_engine(pg.url("companion"))
            wait_until(lambda: _ping(lambda: eng.connect().close()), 30, interval=0.01)
            eng.dispose()
            return time.perf_counter() - t0

        cpu0, wall0 = time.process_time(), time.perf_counter()
        third = orders // 3
        order_ids = iter(range(1, orders + 1))
        recovery, anchor = {}, {}
        for _ in range(third // 2):
            until_accepted(next(order_ids))
        say("killing Redis")
        rds.crash()
        next_id = next(order_ids)
        assert not deliver(next_id)  # refused cleanly while Redis is down
        rds.start()
        anchor["redis"] = redis_ready()
        recovery["redis"] = until_accepted(next_id)
        for _ in range(third // 2):
            until_accepted(next(order_ids))
        say("restarting PostgreSQL")
        pg.stop("fast")
        next_id = next(order_ids)
        assert not deliver(next_id)
        pg.start()
        anchor["postgresql"] = pg_ready()
        recovery["postgresql"] = until_accepted(next_id)
        for _ in range(third):
            until_accepted(next(order_ids))
        say("killing the worker")
        sigkill_group(workers[-1])
        workers.append(start_worker(cfg, "publish,commerce,default", log))
        for order_id in order_ids:
            until_accepted(order_id)

        def settled() -> bool:
            with svc.db.session() as s:
                states = s.execute(sa.select(Job.state).where(Job.id.in_(list(accepted.values())))).scalars().all()
            return len(states) == len(accepted) and all(st in ("finished", "failed") for st in states)

        try:
            wait_until(settled, 180, interval=0.5)
        except TimeoutError:
            pass
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        with svc.db.session() as s:
            finished = set(s.scalars(sa.select(Job.id).where(Job.id.in_(list(accepted.values())),
                                                            Job.state == "finished")))
            ents = s.execute(sa.select(Entitlement.scope, sa.func.count()).group_by(Entitlement.scope)).all()
            deliveries = s.execute(sa.select(WebhookDelivery.resource_id, sa.func.count())
                                   .group_by(WebhookDelivery.resource_id)).all()
        per_scope = dict(ents)
        lost = sum(1 for oid, jid in accepted.items() if jid not in finished or per_scope.get(f"track:{oid}", 0) == 0)
        duplicated = sum(n - 1 for n in per_scope.values() if n > 1) + sum(n - 1 for _, n in deliveries if n > 1)
        svc.close()
        return {
            "orders": orders, "accepted": len(accepted), "jobs_lost": lost, "jobs_duplicated": duplicated,
            "recovery_s": round(max(recovery.values()), 3),
            "recovery_redis_s": round(recovery["redis"], 3), "recovery_postgresql_s": round(recovery["postgresql"], 3),
            "service_ready_redis_s": round(anchor["redis"], 3),
            "service_ready_postgresql_s": round(anchor["postgresql"], 3),
            "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "children_cpu_s": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
                                    + resource.getrusage(resource.RUSAGE_CHILDREN).ru_stime, 2),
        }
    finally:
        for w in workers:
            stop_group(w)
        rds.stop()
        pg.remove()
        shutil.rmtree(scratch, ignore_errors=True)


def _ping(fn) -> bool:
    try:
        fn()
        return True
    except Exception:  # noqa: BLE001 - not up yet
        return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--orders", type=int, default=90)
    args = ap.parse_args()
    os.environ.setdefault("SHM_TEST_SESSION", "bench-faults")
    out = measure(args.orders)
    out["schemathesis_5xx"] = _optional("bench.schemathesis_run", "count_5xx")
    out["fuzz_crashes_open"] = _optional("bench.fuzz", "crashes_open")
    out["machine"] = f"{platform.node()} {os.cpu_count()} cores"
    say(f"lost {out['jobs_lost']}, duplicated {out['jobs_duplicated']} of {out['accepted']} accepted; recovery "
        f"{out['recovery_redis_s']} s after Redis (service itself {out['service_ready_redis_s']} s), "
        f"{out['recovery_postgresql_s']} s after PostgreSQL (service itself {out['service_ready_postgresql_s']} s)")
    print(json.dumps(out))


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    main()
