"""Tags as another reader sees them: exiftool (Debian's libimage-exiftool-perl) on the released files."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.conftest import IN_CI

ID3_FILES = ("mp3-320", "mp3-v0", "master-wav", "aiff")


@pytest.fixture(scope="module")
def exiftool() -> str:
    path = shutil.which("exiftool")
    if path is None:
        if IN_CI:
            pytest.fail("exiftool is not installed (scripts/setup.sh installs libimage-exiftool-perl)")
        pytest.skip("exiftool is not installed")
    return path


def exif(exiftool: str, path) -> dict:
    out = subprocess.run([exiftool, "-j", "-a", "-G1", "-n", str(path)], capture_output=True, check=True).stdout
    return json.loads(out)[0]


@pytest.mark.parametrize("name", ID3_FILES)
def test_id3_files_show_their_year_and_no_warning(release, exiftool, name, tags):
    row = next(r for r in release.manifest["renditions"] if r["name"] == name)
    info = exif(exiftool, release.store.local_path(row["key"]))
    warnings = {k: v for k, v in info.items() if k.endswith(":Warning")}
    assert warnings == {}, warnings
    id3 = {k.split(":", 1)[1]: v for k, v in info.items() if k.startswith("ID3v2_4:")}
    assert id3, sorted(info)  # ID3v2.4, and only that version
    assert not [k for k in info if k.startswith(("ID3v2_3:", "ID3v2_2:"))]
    assert str(id3.get("RecordingTime")) == str(tags.year)
    assert id3["Title"] == tags.title and id3["Album"] == tags.album and id3["Track"] == "2/7"
    assert id3.get("UserDefinedText") or any(k.startswith("UserDefinedText") for k in id3)  # TXXX frames


@pytest.mark.parametrize("name", ["flac", "vorbis-q6", "opus-160", "aac-256", "alac", "preview"])
def test_other_families_show_their_year_and_no_warning(release, exiftool, name, tags):
    row = next(r for r in release.manifest["renditions"] if r["name"] == name)
    info = exif(exiftool, release.store.local_path(row["key"]))
    assert {k: v for k, v in info.items() if k.endswith(":Warning")} == {}
    years = {k: v for k, v in info.items() if k.split(":")[-1] in ("Date", "ContentCreateDate", "Year")}
    assert str(tags.year) in {str(v)[:4] for v in years.values()}, sorted(info)
