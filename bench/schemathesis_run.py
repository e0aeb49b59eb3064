"""schemathesis against the companion's own OpenAPI (``/api/openapi.json``): a bounded run.

:func:`run` drives every operation of the app's spec with schemathesis' generated cases (positive
and negative), once per set of headers it is given (no token, a member's token, a listener's...), and
checks every response with schemathesis' checks: no 5xx, status codes, content types, headers and
bodies as the spec declares them. Findings are collected, not raised on the first one, so one run
lists them all (grouped by operation and check).

``count_5xx()`` is the figure bench/faults.py reports as "schemathesis_5xx": it builds a companion of
its own (SQLite, a local object store, a redis-server it starts on a free port), runs :func:`run`
with and without tokens and returns how many generated requests were answered 5xx (goal 0).

Run alone: .venv/bin/python bench/schemathesis_run.py [--examples 25]; the last line printed is one
JSON object ("schemathesis_5xx", "schema_violations", "requests", wall and CPU seconds).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


@dataclasses.dataclass
class Finding:
    operation: str
    who: str
    check: str
    status: int
    message: str
    request: str

    def line(self) -> str:
        return f"{self.operation} [{self.who}] {self.check} -> {self.status}: {self.message[:300]} ({self.request[:200]})"


@dataclasses.dataclass
class Report:
    requests: int = 0
    server_errors: int = 0  # 5xx the operation does not document
    declared_5xx: int = 0  # 5xx it documents (e.g. /api/health's 503 while a service is down)
    findings: list[Finding] = dataclasses.field(default_factory=list)
    per_check: Counter = dataclasses.field(default_factory=Counter)

    def distinct(self) -> list[Finding]:
        """One finding per (operation, check, who-kind), the first seen."""
        seen, out = set(), []
        for f in self.findings:
            key = (f.operation, f.check, f.status // 100)
            if key not in seen:
                seen.add(key)
                out.append(f)
        return out


def run(app, header_sets: dict[str, dict[str, str]], *, max_examples: int = 15, seed: int = 0,
        operations: str | None = None, negative: bool = True) -> Report:
    """Every operation of ``app``'s spec, ``max_examples`` generated cases each (positive, then
    negative data when ``negative``), once per entry of ``header_sets`` (name -> extra headers)."""
    import hypothesis
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    # Not run: positive_data_acceptance ("valid by the schema, so it must be accepted"). Many refusals
    # depend on content no schema can state (a MIDI file that does not parse, a beacon for a track that
    # does not exist, a scope naming a missing album); they answer a clear 4xx, which the other checks
    # hold to the declared shape.
    from schemathesis.specs.openapi.checks import positive_data_acceptance
    from schemathesis.core.failures import Failure, FailureGroup

    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    report = Report()
    ops = []
    for result in schema.get_all_operations():
        op = result.ok()  # an operation schemathesis cannot read is a finding of its own: raise
        if operations and operations not in op.label:
            continue
        ops.append(op)
    modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if negative else [])
    for op in ops:
        declared = set((op.definition.raw.get("responses") or {}).keys())
        for who, headers in header_sets.items():
            for mode in modes:
                strategy = op.as_strategy(generation_mode=mode)

                @settings(max_examples=max_examples, deadline=None, database=None, derandomize=True,
                          phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
                          verbosity=hypothesis.Verbosity.quiet)
                @given(case=strategy)
                @hypothesis.seed(seed)
                def one(case):
                    response = case.call(headers=dict(headers))
                    report.requests += 1
                    excluded = []
                    if response.status_code >= 500:
                        if str(response.status_code) in declared:
                            # a 5xx the operation documents (/api/health's 503 while a service is down)
                            report.declared_5xx += 1
                            excluded.append(not_a_server_error)
                        else:
                            report.server_errors += 1
                    try:
                        case.validate_response(response, headers=dict(headers),
                                               excluded_checks=excluded + [positive_data_acceptance])
                    except (Failure, FailureGroup, AssertionError) as exc:
                        failures = list(getattr(exc, "exceptions", None) or [exc])
                        for f in failures:
                            name = type(f).__name__
                            title = getattr(f, "title", "") or name
                            msg = getattr(f, "message", "") or str(f)
                            report.per_check[title] += 1
                            report.findings.append(Finding(op.label, who, title, response.status_code,
                                                           msg.replace("\n", " "), case.as_curl_command()))
                try:
                    one()
                except hypothesis.errors.Unsatisfiable:  # e.g. no negative case exists for an operation without inputs
                    pass
    return report


# -- standalone: a companion of its own -------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_redis(folder: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen([shutil.which("redis-server") or "redis-server", "--bind", "127.0.0.1", "--port",
                             str(port), "--save", "", "--appendonly", "no", "--dir", str(folder)],
                            stdout=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    return proc, f"redis://127.0.0.1:{port}/0"


#: Rate limits high enough that a run explores the API rather than its 429s (the limits are tested on their own).
GENEROUS_LIMITS = {"auth_failure_limit": "100000 per minute", "beacon_rate_limit": "100000 per minute"}


def companion(folder: Path, redis_url: str):
    """A migrated companion app with the band seeded; returns (app, header sets to run with)."""
    from companion import create_app
    from companion.band.service import seed_members
    from companion.band.tokens import create_token
    from companion.config import Config
    from companion.db import upgrade
    from jobs import context

    config = Config(var_dir=folder / "var", database_url=f"sqlite:///{folder / 'companion.db'}", redis_url=redis_url,
                    queue_name=f"shm-st-{int(time.time() * 1000)}", wp_shared_secret="schemathesis-secret",
                    testing=True, job_retries=0, **GENEROUS_LIMITS)
    upgrade(config.database_url)
    context.configure(config)
    svc = context.services()
    with svc.db.session() as s:
        seed_members(s, svc.band)
        member = next(iter(svc.band.members))
        _, member_token = create_token(s, role="member", member_id=member, label="schemathesis")
        _, listener_token = create_token(s, role="listener", label="schemathesis")
    app = create_app(config)
    return app, {"anonymous": {}, "member": {"Authorization": f"Bearer {member_token}"},
                 "listener": {"Authorization": f"Bearer {listener_token}"}}


def measure(max_examples: int = 2) -> dict:
    import os

    folder = Path(tempfile.mkdtemp(prefix="shm-schemathesis-"))
    proc, redis_url = _start_redis(folder)
    t0, c0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    try:
        app, header_sets = companion(folder, redis_url)
        report = run(app, header_sets, max_examples=max_examples)
        app.extensions["scripthammer"].close()
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(10)
        shutil.rmtree(folder, ignore_errors=True)
    c1 = resource.getrusage(resource.RUSAGE_SELF)
    for f in report.distinct():
        print(f.line(), file=sys.stderr)
    return {"schemathesis_5xx": report.server_errors, "declared_5xx": report.declared_5xx,
            "schema_violations": len(report.findings),
            "requests": report.requests, "max_examples": max_examples,
            "wall_s": round(time.perf_counter() - t0, 2),
            "cpu_s": round(c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime, 2)}


def count_5xx() -> int:
    """Requests answered 5xx in a bounded run (bench/faults.py's "schemathesis_5xx")."""
    return measure()["schemathesis_5xx"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--examples", type=int, default=2)
    args = p.parse_args()
    print(json.dumps(measure(args.examples)))


if __name__ == "__main__":
    main()
