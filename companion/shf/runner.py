"""Runs inside the sandbox: imports a bundle's algorithm scripts and composes the piece.

``python -I -m companion.shf.runner <scratch>`` with the scratch folder holding ``job.json``,
``algorithms/`` and ``instruments/`` (extracted from a trusted bundle). Before any bundle code
is imported an audit hook is installed that refuses, for the rest of the process: writing or
creating files outside the scratch folder, sockets, starting processes (subprocess, os.system,
exec, fork), loading native libraries (ctypes) and changing the hook set. The OS-level limits
(CPU time, memory, file size, open files, no network namespace, an unprivileged user) are set
by the parent (:mod:`companion.shf.regenerate`); this hook is the second wall, not the only one.

The bundle's scripts are loaded as the package ``shfbundle.algorithms``; their relative imports
of the canonical composition model (``..compositions.model``) resolve to the companion's own,
trusted, model. The result (the composition's canonical files) is written to ``<scratch>/out``.
"""
from __future__ import annotations

import json
import os
import sys

BLOCKED_EVENTS = ("socket.", "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.fork", "os.forkpty",
                  "os.spawn", "ctypes.", "sys.addaudithook", "os.kill", "os.killpg", "os.chmod", "os.chown",
                  "shutil.rmtree", "os.symlink", "os.link", "webbrowser.", "pty.", "os.putenv", "os.unsetenv")
WRITE_EVENTS = ("os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.truncate", "os.utime")


def install_guard(scratch: str) -> None:
    scratch = os.path.realpath(scratch)

    def inside(path) -> bool:
        try:
            p = os.path.realpath(os.fsdecode(path) if not isinstance(path, int) else "")
        except (TypeError, ValueError):
            return False
        return p == scratch or p.startswith(scratch + os.sep)

    def hook(event, args):
        if event.startswith(BLOCKED_EVENTS):
            raise PermissionError(f"sandbox: {event} is not allowed")
        if event == "open":
            path, mode, flags = (list(args) + [None, None, None])[:3]
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or \
                (isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND))
            if writing and not isinstance(path, int) and not inside(path):
                raise PermissionError(f"sandbox: writing {path!r} outside the scratch folder is not allowed")
        elif event in WRITE_EVENTS:
            for a in args[:2]:
                if isinstance(a, (str, bytes, os.PathLike)) and not inside(a):
                    raise PermissionError(f"sandbox: {event} outside the scratch folder is not allowed")
        elif event == "import" and args and str(args[0]).split(".")[0] in ("ctypes", "_ctypes", "socket", "_socket",
                                                                            "subprocess", "multiprocessing"):
            raise PermissionError(f"sandbox: importing {args[0]} is not allowed")

    sys.addaudithook(hook)


def main(scratch: str) -> int:
    import importlib.util
    import types

    scratch = os.path.realpath(scratch)
    with open(os.path.join(scratch, "job.json"), encoding="utf-8") as fh:
        job = json.load(fh)
    # trusted platform code first (before the guard: numpy-free, but imports must be ready)
    import companion.compositions.model as model  # noqa: F401
    import fractions, hashlib, random, tomllib, re, functools, itertools, statistics, dataclasses, abc  # noqa: F401,E401
    import urllib.parse, bisect, copy  # noqa: F401,E401

    install_guard(scratch)
    pkg = types.ModuleType("shfbundle")
    pkg.__path__ = []
    sys.modules["shfbundle"] = pkg
    import companion.compositions as comps
    sys.modules["shfbundle.compositions"] = comps
    sys.modules["shfbundle.compositions.model"] = comps.model
    algo_dir = os.path.join(scratch, "algorithms")
    spec = importlib.util.spec_from_file_location("shfbundle.algorithms", os.path.join(algo_dir, "__init__.py"),
                                                  submodule_search_locations=[algo_dir])
    mod = importlib.util.module_from_spec(spec)
    sys.modules["shfbundle.algorithms"] = mod
    spec.loader.exec_module(mod)
    gen = importlib.import_module("shfbundle.algorithms.generate")
    base = importlib.import_module("shfbundle.algorithms.base")
    insts = importlib.import_module("shfbundle.algorithms.instruments")
    instruments = insts.load_instruments(os.path.join(scratch, "instruments"))
    comp = gen.compose(None, int(job["seed"]), base.Params.from_dict(job.get("params")), measures=job.get("measures"),
                       members=job.get("members"), instruments=instruments)
    comp.title = job.get("title") or comp.title
    out = os.path.join(scratch, "out")
    os.makedirs(out, exist_ok=True)
    files = comp.to_files()
    for name, data in files.items():
        dest = os.path.join(out, *name.split("/"))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, "wb") as fh:
            fh.write(data)
    sys.stdout.write(json.dumps({"ok": True, "files": sorted(files)}) + "\n")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1]))
    except PermissionError as exc:
        sys.stdout.write(json.dumps({"ok": False, "code": "sandbox_violation", "message": str(exc)}) + "\n")
        sys.exit(3)
    except MemoryError:
        sys.stdout.write(json.dumps({"ok": False, "code": "memory_limit", "message": "out of memory"}) + "\n")
        sys.exit(4)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises SandboxError
        sys.stdout.write(json.dumps({"ok": False, "code": "script_error",
                                     "message": f"{type(exc).__name__}: {exc}"[:500]}) + "\n")
        sys.exit(5)
