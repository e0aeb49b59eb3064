"""Fuzzing figure for issue 15: "fuzz_crashes_open" (goal 0).

Every atheris target of tests/hostile/fuzz_targets.py is run for ``--seconds`` (its own process, its
seeds as the corpus), and every kept regression input (tests/hostile/fuzz_regressions/) is replayed.
Crashes open = targets whose run found something (an untyped exception, a hang, a crash) plus
regression inputs that fail again. Inputs executed per target, wall and CPU seconds (of the fuzzing
processes) are printed beside it. The anchor is the regression replay: the same parsers on inputs
that once broke them.

Run: .venv/bin/python bench/fuzz.py [--seconds 10]; the last line printed is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HARNESS = ROOT / "tests" / "hostile" / "fuzz_targets.py"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HARNESS.parent))


def _targets():
    import fuzz_targets

    return fuzz_targets


def run_one(name: str, seconds: int, work: Path) -> dict:
    art = work / name / "artifacts"
    corpus = work / name / "corpus"
    art.mkdir(parents=True)
    proc = subprocess.run([sys.executable, str(HARNESS), name, f"-max_total_time={seconds}", "-timeout=20",
                           "-rss_limit_mb=2048", "-print_final_stats=1", f"-artifact_prefix={art}/", str(corpus)],
                          capture_output=True, text=True, errors="replace", timeout=seconds + 180,
                          start_new_session=True)
    log = proc.stdout + proc.stderr
    execs = re.search(r"stat::number_of_executed_units: (\d+)", log)
    findings = sorted(p.name for p in art.iterdir() if not p.name.startswith("slow-unit-"))  # notes, not findings
    return {"target": name, "exit": proc.returncode, "execs": int(execs.group(1)) if execs else None,
            "findings": findings, "open": bool(findings) or proc.returncode != 0}


def replay_regressions() -> list[str]:
    """Regression inputs that fail again (name/file)."""
    ft = _targets()
    failing = []
    for name, target in ft.TARGETS.items():
        for path in ft.regressions(name):
            try:
                target(path.read_bytes())
            except BaseException as exc:  # noqa: BLE001 - every failure counts
                failing.append(f"{name}/{path.name}: {type(exc).__name__}")
    return failing


def measure(seconds: int = 10) -> dict:
    ft = _targets()
    t0 = time.perf_counter()
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory(prefix="shm-fuzz-") as d:
        runs = [run_one(name, seconds, Path(d)) for name in sorted(ft.TARGETS)]
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    r0 = time.perf_counter()
    failing = replay_regressions()
    replay_s = time.perf_counter() - r0
    for r in runs:
        print(f"{r['target']:<20} exit {r['exit']:>3}  {r['execs']} inputs  findings: {r['findings'] or '-'}",
              file=sys.stderr)
    for f in failing:
        print(f"regression failing again: {f}", file=sys.stderr)
    regressions = sum(len(ft.regressions(n)) for n in ft.TARGETS)
    return {"fuzz_crashes_open": sum(r["open"] for r in runs) + len(failing),
            "targets": len(runs), "seconds_per_target": seconds,
            "inputs": {r["target"]: r["execs"] for r in runs},
            "regressions_kept": regressions, "regressions_failing": len(failing),
            "regression_replay_s": round(replay_s, 2),
            "wall_s": round(time.perf_counter() - t0, 1),
            "cpu_s": round(c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime, 1)}


def crashes_open() -> int:
    """bench/faults.py's "fuzz_crashes_open": a short run of every target plus the regression replay."""
    return measure(5)["fuzz_crashes_open"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=int, default=10, help="fuzzing time per target")
    args = p.parse_args()
    print(json.dumps(measure(args.seconds)))


if __name__ == "__main__":
    main()
