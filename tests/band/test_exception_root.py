"""One exception root: every exception class defined in companion/ descends from ScriptHammerError.

Each module of the companion is imported and every exception class it defines is checked, so one
added later is checked too. ``INTERNAL`` may list a class that never leaves its module (it would
be caught and turned into a typed error there); it is empty today.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import companion
from companion.errors import ScriptHammerError

#: Modules not imported: entry points with side effects at import and Alembic's environment.
SKIPPED_MODULES = {"companion.wsgi", "companion.migrations.env"}
#: "module.Class" -> why it may stay outside the root.
INTERNAL: dict[str, str] = {}


def _modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(companion.__path__, prefix="companion."):
        if info.name in SKIPPED_MODULES or info.name.startswith("companion.migrations.versions"):
            continue
        names.append(info.name)
    return sorted(names)


def _exception_classes() -> list[tuple[str, type]]:
    found = []
    for name in _modules():
        module = importlib.import_module(name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__ == name:
                found.append((f"{name}.{obj.__qualname__}", obj))
    return found


CLASSES = _exception_classes()


def test_every_module_imports_and_exceptions_are_found():
    names = {n for n, _ in CLASSES}
    assert {"companion.errors.NotFound", "companion.shf.spec.BundleSignatureError",
            "companion.band.signing.RequestSignatureError", "companion.compositions.model.FormatError"} <= names
    assert not set(INTERNAL) - names, "INTERNAL names a class that no longer exists"


def test_the_two_signature_errors_have_distinct_names():
    simple = [n.rsplit(".", 1)[1] for n, _ in CLASSES]
    assert "SignatureError" not in simple
    assert len([n for n in simple if n.endswith("SignatureError")]) == len({n for n in simple
                                                                            if n.endswith("SignatureError")})


@pytest.mark.parametrize("name, cls", [c for c in CLASSES if c[0] not in INTERNAL], ids=lambda v: v
                         if isinstance(v, str) else "")
def test_each_exception_descends_from_scripthammer_error(name, cls):
    assert issubclass(cls, ScriptHammerError), f"{name} derives from {[b.__name__ for b in cls.__mro__[1:]]}"
    assert isinstance(cls.status, int) and 400 <= cls.status <= 599 and cls.code
