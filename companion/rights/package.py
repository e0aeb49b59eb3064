"""The licensed algorithm package: a zip that generates music locally with one member's algorithm.

It vendors the minimal modules (no ``scripthammer`` wheel, no network): the member's module and every
module of the companion it imports, found by reading their imports (:func:`closure`), copied under
the package name ``shlocal`` with their relative imports unchanged (``shlocal/algorithms/base.py``,
``shlocal/compositions/model.py``, ``shlocal/errors.py``...). With it: the member's instrument
definitions, the licence file, the band's public key, the standalone verifier
(verifier/scripthammer_verify.py, which imports only ``cryptography``) and ``run.py``, which checks the
licence offline before it writes a note. Needs Python 3.11+, ``cryptography``, ``mido`` and
``jsonschema`` (see the README.txt inside).
"""
from __future__ import annotations

import ast
import io
import json
import sys
import zipfile
from pathlib import Path

import companion

PACKAGE = "shlocal"
ROOT = Path(companion.__file__).resolve().parent
#: where the standalone verifier is: a checkout's verifier/ next to companion/, or the image's /app/verifier
#: (the Dockerfile copies it; the companion itself is installed in the venv there)
VERIFIER_CANDIDATES = (ROOT.parent / "verifier" / "scripthammer_verify.py",
                       Path(sys.prefix).resolve().parent / "verifier" / "scripthammer_verify.py")
RUNNER = Path(__file__).with_name("package_run.py")
#: the fixed time stamp of every zip member (the same licence gives the same zip)
ZIP_TIME = (2026, 1, 1, 0, 0, 0)


def _file_of(module: str) -> Path | None:
    """companion-relative dotted name -> its file (a module or a package's __init__)."""
    base = ROOT.joinpath(*module.split(".")) if module else ROOT
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def closure(start: list[str]) -> list[str]:
    """Every companion module (dotted, relative to ``companion``) the ``start`` modules import,
    directly or lazily inside functions, themselves included."""
    todo, seen = list(start), set()
    while todo:
        mod = todo.pop()
        if mod in seen:
            continue
        path = _file_of(mod)
        if path is None:
            raise FileNotFoundError(f"companion.{mod} is not a module")
        seen.add(mod)
        is_pkg = path.name == "__init__.py"
        package = mod if is_pkg else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.level:
                parts = package.split(".") if package else []
                base = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                target = ".".join(base + ([node.module] if node.module else []))
                targets.append(target)
                targets += [f"{target}.{a.name}" if target else a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("companion."):
                target = node.module[len("companion."):]
                targets += [target] + [f"{target}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets += [a.name[len("companion."):] for a in node.names if a.name.startswith("companion.")]
            for t in targets:
                if t and _file_of(t) is not None and t not in seen:
                    todo.append(t)
    return sorted(seen)


def member_modules(member: str, instruments: dict[str, str]) -> list[str]:
    """The modules defining the member's algorithm classes (and Form's layout, the piece's structure)."""
    from companion.algorithms.registry import BY_INSTRUMENT

    mods = {BY_INSTRUMENT[i].__module__.removeprefix("companion.") for i in instruments}
    mods |= {"algorithms.members.form", "algorithms.base", "algorithms.instruments", "compositions.midi"}
    return sorted(mods)


def verifier_file() -> Path:
    for path in VERIFIER_CANDIDATES:
        if path.is_file():
            return path
    from companion.errors import ServiceUnavailable

    raise ServiceUnavailable("The standalone verifier (verifier/scripthammer_verify.py) is not installed next to "
                             "the companion: packages cannot be built.", code="verifier_missing")


def _packages(modules: list[str]) -> set[str]:
    out = set()
    for mod in modules:
        parts = mod.split(".")
        for i in range(1, len(parts)):
            out.add(".".join(parts[:i]))
    return out


def build(licence_doc: dict, *, public_key_pem: str) -> bytes:
    """The zip for one licence (bytes)."""
    from companion.algorithms.instruments import INSTRUMENTS_DIR, load_instruments
    from companion.rights.licence_store import instruments_of

    body = licence_doc["licence"]
    member = body["member"]
    instruments = instruments_of(member)
    modules = closure(member_modules(member, instruments))
    top = f"scripthammer-{member}-{body['id']}"
    files: dict[str, bytes] = {}
    packages = _packages(modules) | {""}
    for mod in modules:
        path = _file_of(mod)
        rel = path.relative_to(ROOT).as_posix()
        if path.name == "__init__.py":
            continue
        files[f"{PACKAGE}/{rel}"] = path.read_bytes()
    for pkg in sorted(packages):
        rel = (pkg.replace(".", "/") + "/" if pkg else "") + "__init__.py"
        files[f"{PACKAGE}/{rel}"] = (f'"""Vendored from companion/{pkg.replace(".", "/")} for a licensed algorithm '
                                     f'package (see README.txt)."""\n').encode()
        folder = ROOT.joinpath(*pkg.split(".")) if pkg else ROOT
        if pkg:  # the JSON schemas the modules read (instrument definitions, the composition format)
            for extra in sorted(folder.glob("*.json")):
                files[f"{PACKAGE}/{pkg.replace('.', '/')}/{extra.name}"] = extra.read_bytes()
    known = load_instruments()
    for inst_id in instruments:
        src = Path(INSTRUMENTS_DIR) / f"{inst_id}.toml"
        if not src.is_file():  # the file name is not the id: find it by its text
            src = next(p for p in Path(INSTRUMENTS_DIR).glob("*.toml") if p.read_text() == known[inst_id].source)
        files[f"{PACKAGE}/algorithms/instruments/{src.name}"] = src.read_bytes()
    manifest = {"format": "scripthammer-algorithm-package/1", "member": member, "algorithm": body["algorithm"],
                "licence": body["id"], "package": PACKAGE, "instruments": instruments,
                "modules": [f"{PACKAGE}.{m}" for m in modules]}
    files["package.json"] = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    files["licence.json"] = (json.dumps(licence_doc, indent=2, sort_keys=True) + "\n").encode()
    files["band.pub"] = public_key_pem.encode()
    files["scripthammer_verify.py"] = verifier_file().read_bytes()
    files["run.py"] = RUNNER.read_bytes()
    files["README.txt"] = _readme(body, instruments).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(files):
            info = zipfile.ZipInfo(f"{top}/{name}", date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o755 if name == "run.py" else 0o644) << 16
            z.writestr(info, files[name])
    return buf.getvalue()


def _readme(body: dict, instruments: dict[str, str]) -> str:
    return f"""ScriptHammer algorithm package: {body['algorithm']} by {body['member']}
Licence {body['id']} for {body['licensee']}: {body['tier']}, {body['seats']} seat(s), \
{'until ' + body['expires'] if body.get('expires') else 'no end'}.

Instruments: {', '.join(f'{k} ({v})' for k, v in instruments.items())}

Run (Python 3.11+ with cryptography, mido and jsonschema installed; no network needed):

    python run.py --seed 7 --measures 16 --out piece.mid
    python run.py --seed 7 --measures 16 --out piece.mid --use commercial
    python run.py ... --revocations revocations.json   # the band's latest signed list

run.py first checks licence.json offline with band.pub (the band's Ed25519 public key): the signature,
the term, the tier against --use, and the revocation list when given (fetch the newest from
GET /api/rights/licences/revocations on the band's companion). A tampered, expired, revoked or
out-of-tier licence is refused (exit 1) and nothing is generated. The same seed and measures give the
same MIDI file, byte for byte.

The shlocal/ folder is the band's code, vendored unchanged (only the package name differs); the
licence's terms cover its use. Seats are how many people or machines may run it: not enforced by
the code, part of the licence's terms.
"""
