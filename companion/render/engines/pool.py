"""Running an engine's process groups side by side: a thread each (the threads wait on processes)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable


def run_all(calls: list[Callable[[], None]], at_once: int = 2) -> None:
    """Run the callables, ``at_once`` at a time; wait for all of them, then raise the first failure."""
    if len(calls) <= 1 or at_once <= 1:
        for fn in calls:
            fn()
        return
    with ThreadPoolExecutor(max_workers=min(at_once, len(calls)), thread_name_prefix="engine") as pool:
        futures = [pool.submit(fn) for fn in calls]
    for f in futures:
        f.result()
