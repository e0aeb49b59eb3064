"""PHPUnit (Debian's phpunit) for the plugin's own PHP classes that need no WordPress."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import IN_CI


def test_phpunit_plugin_classes():
    phpunit = shutil.which("phpunit")
    if phpunit is None:
        if IN_CI:
            pytest.fail("phpunit is not installed (apt-get install phpunit)")
        pytest.skip("phpunit is not installed")
    here = Path(__file__).parent / "phpunit"
    proc = subprocess.run([phpunit, "-c", str(here / "phpunit.xml")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "OK (" in proc.stdout


def test_plugin_php_files_lint():
    php = shutil.which("php")
    if php is None:
        if IN_CI:
            pytest.fail("php is not installed")
        pytest.skip("php is not installed")
    root = Path(__file__).resolve().parents[2] / "wp-plugin" / "scripthammer"
    files = sorted(root.rglob("*.php"))
    assert len(files) >= 14
    for f in files:
        proc = subprocess.run([php, "-l", str(f)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        text = f.read_text()
        if f.parent.name == "includes":
            assert "defined( 'ABSPATH' ) || exit;" in text, f"{f} can be loaded directly"
            assert text.count("\nfinal class ") + text.count("\nclass ") == 1, f"{f}: one class per file"
