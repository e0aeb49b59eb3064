"""atheris on the parsers of outside input (tests/hostile/fuzz_targets.py), bounded for the suite.

Each target runs for FUZZ_SECONDS in a process of its own (libFuzzer ends the process when it stops):
the run must end without a finding (an exception other than the companion's typed errors, a hang over
PER_INPUT_TIMEOUT, a crash). Every input that ever crashed is kept in tests/hostile/fuzz_regressions/
<target>/ and replayed here in-process. scripts/fuzz-nightly.sh runs the same targets for longer.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import fuzz_targets  # noqa: E402

#: seconds per target in the suite (scripts/fuzz-nightly.sh runs each for 10 minutes, keeping its corpus)
FUZZ_SECONDS = int(os.environ.get("SCRIPTHAMMER_FUZZ_SECONDS", "8"))
PER_INPUT_TIMEOUT = 20


def run_target(name: str, seconds: int, work: Path, *, corpus: Path | None = None) -> tuple[int, str, list[Path]]:
    """Fuzz ``name`` for ``seconds``; (exit code, log tail, crash inputs written)."""
    artifacts = work / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    corpus = corpus or work / "corpus"
    cmd = [sys.executable, str(HERE / "fuzz_targets.py"), name, f"-max_total_time={seconds}",
           f"-timeout={PER_INPUT_TIMEOUT}", "-rss_limit_mb=2048", "-print_final_stats=1",
           f"-artifact_prefix={artifacts}/", str(corpus)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + PER_INPUT_TIMEOUT + 120,
                          errors="replace", start_new_session=True)
    log = (proc.stdout + proc.stderr)[-6000:]
    # slow-unit-* files are libFuzzer's notes on slow inputs (a loaded machine makes many): not findings;
    # a hang over PER_INPUT_TIMEOUT is (timeout-*), as are crash-* and oom-*.
    return proc.returncode, log, sorted(p for p in artifacts.iterdir() if not p.name.startswith("slow-unit-"))


@pytest.mark.parametrize("name", sorted(fuzz_targets.TARGETS))
def test_fuzz_target_finds_nothing(name, tmp_path):
    code, log, crashes = run_target(name, FUZZ_SECONDS, tmp_path)
    assert "Done" in log or "stat::number_of_executed_units" in log, log  # it did fuzz, to the end
    assert code == 0 and not crashes, (f"{name}: exit {code}; keep {[str(c) for c in crashes]} in "
                                       f"tests/hostile/fuzz_regressions/{name}/ and fix the parser\n{log}")


def _regressions():
    return [(name, path) for name in sorted(fuzz_targets.TARGETS) for path in fuzz_targets.regressions(name)]


@pytest.mark.parametrize("name,path", _regressions(), ids=lambda v: getattr(v, "name", v))
def test_fuzz_regression_stays_fixed(name, path):
    fuzz_targets.TARGETS[name](path.read_bytes())  # raises if the crash is back


def test_every_target_has_seeds_and_takes_them():
    for name, target in fuzz_targets.TARGETS.items():
        seeds = fuzz_targets.seeds(name)
        assert seeds, name
        for seed in seeds:
            target(seed)


def test_a_crashing_target_is_reported(tmp_path):
    """The harness itself can fail: a target that raises something untyped is a finding."""
    script = tmp_path / "boom.py"
    script.write_text(
        "import sys, atheris\n"
        "def t(data):\n"
        "    if data[:1] == b'x': raise KeyError('found it')\n"
        "atheris.Setup(sys.argv, t)\natheris.Fuzz()\n")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "seed").write_bytes(b"x")
    art = tmp_path / "art"
    art.mkdir()
    proc = subprocess.run([sys.executable, str(script), "-max_total_time=20", f"-artifact_prefix={art}/", str(corpus)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and list(art.iterdir()), proc.stderr[-2000:]
