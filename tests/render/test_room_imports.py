"""The rooms import one way: shf builds on render (render never imports shf), render builds on
algorithms (the algorithms never import render), and no room CLI imports companion/cli.py."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

COMPANION = Path(__file__).resolve().parents[2] / "companion"


def imports_of(path: Path) -> set[str]:
    """Every module a file imports (module-level and inside functions), as absolute names."""
    pkg = ".".join(path.relative_to(COMPANION.parent).with_suffix("").parts[:-1])
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            out |= {f"{mod}.{a.name}" for a in node.names}
    return out


@pytest.mark.parametrize("room, never", [
    ("render", "companion.shf"), ("algorithms", "companion.render"), ("algorithms", "companion.shf"),
    ("render", "companion.cli"), ("algorithms", "companion.cli"),
])
def test_room_does_not_import(room, never):
    offenders = {str(p.relative_to(COMPANION)): sorted(m for m in imports_of(p) if m == never or
                                                        m.startswith(never + "."))
                 for p in (COMPANION / room).rglob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_render_rooms_shf_media_type_is_the_shf_rooms():
    from companion.render.publish import SHF_MIME
    from companion.shf.spec import MEDIA_TYPE

    assert SHF_MIME == MEDIA_TYPE
