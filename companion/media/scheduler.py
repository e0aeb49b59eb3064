"""Running a graph of tasks on a few threads, the longest chain of work first.

The release pipeline is a graph: the WAV master gates every encoder, the loudness measurement
gates the normalised ladder, each rung gates its segments, and so on. :func:`run_graph` runs
such a graph on ``workers`` threads (each drives one single-threaded ffmpeg at a time) plus a
few threads for ``light`` tasks (tagging, stream copies, uploads) that never wait behind a long
encode.

Data flows only through results: a task's function is called with the results of its
``deps``, in the order they are listed, and its return value is the input of the tasks that
depend on it. Nothing else is shared between tasks.

Ready tasks start in order of their critical path (:func:`critical_path`: their own cost plus
the costliest chain of tasks waiting on them; list scheduling by upward rank), so a short task
that gates long ones starts before a long task that gates none.
"""
from __future__ import annotations

import dataclasses
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Callable, Iterable


@dataclasses.dataclass(frozen=True)
class Task:
    """One unit of work.

    Attributes:
        name: unique in its graph; the key of its result.
        fn: called as ``fn(*results_of_deps)``; returns the task's result.
        cost: how long it should take, relative to the other tasks (seconds of audio work).
        deps: names of the tasks whose results ``fn`` takes, in that order.
        stage: what progress reports while it runs (defaults to ``name``).
        light: short or I/O-bound: runs on the light threads, beside the encoders.
    """

    name: str
    fn: Callable[..., Any]
    cost: float = 1.0
    deps: tuple[str, ...] = ()
    stage: str = ""
    light: bool = False

    @property
    def label(self) -> str:
        return self.stage or self.name


def critical_path(tasks: Iterable[Task]) -> dict[str, float]:
    """Each task's cost plus the costliest chain of tasks that depend on it."""
    by_name = {t.name: t for t in tasks}
    children: dict[str, list[str]] = {n: [] for n in by_name}
    for t in by_name.values():
        for d in t.deps:
            children[d].append(t.name)
    rank: dict[str, float] = {}

    def visit(name: str) -> float:
        if name not in rank:
            rank[name] = by_name[name].cost + max((visit(c) for c in children[name]), default=0.0)
        return rank[name]

    for name in by_name:
        visit(name)
    return rank


def check_graph(tasks: dict[str, Task]) -> None:
    """Raise ValueError when a task depends on a task that is not in the graph."""
    for t in tasks.values():
        missing = [d for d in t.deps if d not in tasks]
        if missing:
            raise ValueError(f"task {t.name} depends on unknown {missing}")


def _ready(pending: dict[str, Task], results: dict[str, Any], rank: dict[str, float]) -> list[Task]:
    ready = (t for t in pending.values() if all(d in results for d in t.deps))
    return sorted(ready, key=lambda t: (-rank[t.name], t.name))


def run_graph(tasks: Iterable[Task], workers: int, on_done: Callable[[Task], None] | None = None,
              light_workers: int = 2) -> dict[str, Any]:
    """Run ``tasks``, each as soon as its dependencies are done; return ``{name: result}``.

    Args:
        tasks: the graph (names unique, every dependency in it).
        workers: threads for the heavy tasks (at most this many run at once).
        on_done: called with each task that finished, from the calling thread.
        light_workers: threads for ``light`` tasks.

    The first failure stops new tasks from starting, waits for the running ones, and is raised.
    """
    pending = {t.name: t for t in tasks}
    check_graph(pending)
    rank = critical_path(pending.values())
    results: dict[str, Any] = {}
    running: dict[Future, Task] = {}
    failure: BaseException | None = None
    workers = max(1, workers)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="release") as heavy, \
            ThreadPoolExecutor(max_workers=max(1, light_workers), thread_name_prefix="release-io") as light:
        while (pending and failure is None) or running:
            if failure is None:
                heavy_running = sum(1 for t in running.values() if not t.light)
                for t in _ready(pending, results, rank):
                    if t.light:
                        pool = light
                    elif heavy_running < workers:
                        heavy_running += 1
                        pool = heavy
                    else:
                        continue
                    running[pool.submit(t.fn, *(results[d] for d in t.deps))] = t
                    del pending[t.name]
                if not running and pending:
                    raise RuntimeError(f"tasks can never start: {sorted(pending)}")
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for fut in done:
                task = running.pop(fut)
                try:
                    results[task.name] = fut.result()
                except BaseException as exc:  # noqa: BLE001 - re-raised below
                    failure = failure or exc
                    continue
                if on_done is not None:
                    on_done(task)
    if failure is not None:
        raise failure
    return results
