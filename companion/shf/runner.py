"""Runs inside the sandbox: imports a bundle's algorithm scripts and composes the piece.

``python -I -S -B /sandbox/runner.py /job /out``, started by :mod:`companion.shf.sandbox` under
bubblewrap: ``/job`` holds ``job.json``, ``algorithms/`` and ``instruments/`` (extracted from a
trusted bundle) and ``exec-filter.bpf``; ``/out`` is the only writable folder. The walls are the
sandbox's (namespaces, uid, read-only binds, seccomp, limits); this script adds one more before
it imports any bundle code: it installs the seccomp filter in ``exec-filter.bpf`` on itself, so
that from then on no program can be executed (execve, execveat), not even Python again.

The bundle's scripts are loaded as the package ``shfbundle.algorithms``; their relative imports
of the canonical composition model (``..compositions.model``) resolve to the companion's own,
trusted, model (bound read-only at ``/sandbox/companion``). The result, the composition's
canonical files, is written to ``/out``; the last line on stdout is a JSON report.
"""
from __future__ import annotations

import json
import os
import sys

CODE_ROOT = "/sandbox"
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2


def install_filter(path: str) -> None:
    """Install the classic-BPF seccomp program in ``path`` on this process (for good)."""
    import ctypes

    with open(path, "rb") as fh:
        program = fh.read()
    if not program or len(program) % 8:
        raise RuntimeError("the exec filter is not a BPF program")

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]

    libc = ctypes.CDLL(None, use_errno=True)
    prog = SockFprog(len(program) // 8, program)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")


def load_bundle_scripts(job: str):
    """The bundle's ``generate``, ``base`` and ``instruments`` modules (as ``shfbundle.algorithms``)."""
    import importlib
    import importlib.util
    import types

    sys.path.insert(0, CODE_ROOT)
    import companion.compositions as comps
    import companion.compositions.model  # noqa: F401 - trusted platform code the scripts use

    pkg = types.ModuleType("shfbundle")
    pkg.__path__ = []
    sys.modules["shfbundle"] = pkg
    sys.modules["shfbundle.compositions"] = comps
    sys.modules["shfbundle.compositions.model"] = comps.model
    algo_dir = os.path.join(job, "algorithms")
    spec = importlib.util.spec_from_file_location("shfbundle.algorithms", os.path.join(algo_dir, "__init__.py"),
                                                  submodule_search_locations=[algo_dir])
    mod = importlib.util.module_from_spec(spec)
    sys.modules["shfbundle.algorithms"] = mod
    spec.loader.exec_module(mod)
    return (importlib.import_module("shfbundle.algorithms.generate"),
            importlib.import_module("shfbundle.algorithms.base"),
            importlib.import_module("shfbundle.algorithms.instruments"))


def write_files(out: str, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        dest = os.path.join(out, *name.split("/"))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, "wb") as fh:
            fh.write(data)


def main(job: str, out: str) -> int:
    with open(os.path.join(job, "job.json"), encoding="utf-8") as fh:
        spec = json.load(fh)
    install_filter(os.path.join(job, "exec-filter.bpf"))
    if spec.get("probe"):  # the sandbox's availability check: started, filtered, nothing else
        sys.stdout.write(json.dumps({"ok": True, "probe": True}) + "\n")
        return 0
    gen, base, insts = load_bundle_scripts(job)
    instruments = insts.load_instruments(os.path.join(job, "instruments"))
    comp = gen.compose(None, int(spec["seed"]), base.Params.from_dict(spec.get("params")),
                       measures=spec.get("measures"), members=spec.get("members"), instruments=instruments)
    comp.title = spec.get("title") or comp.title
    files = comp.to_files()
    write_files(out, files)
    sys.stdout.write(json.dumps({"ok": True, "files": sorted(files)}) + "\n")
    return 0


def _report(code: str, exc: BaseException) -> None:
    sys.stdout.write(json.dumps({"ok": False, "code": code, "message": f"{type(exc).__name__}: {exc}"[:500]}) + "\n")


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1], sys.argv[2]))
    except PermissionError as exc:
        _report("sandbox_violation", exc)
        sys.exit(3)
    except MemoryError as exc:
        _report("memory_limit", exc)
        sys.exit(4)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises SandboxError
        _report("script_error", exc)
        sys.exit(5)
