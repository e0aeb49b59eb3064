"""Writing, inspecting, verifying and extracting SHF bundles; hostile bundles are refused."""
from __future__ import annotations

import hashlib
import json
import os
import stat
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from companion.shf import spec
from companion.shf.reader import extract, open_bundle

from tests.shf.conftest import rewrite


def test_a_bundle_holds_everything_and_verifies(good_bundle, trusted):
    with open_bundle(good_bundle) as b:
        roles = {e["role"] for e in b.files.values()}
        assert roles == {"master", "stem", "composition", "midi", "algorithm", "instrument", "settings", "sample"}
        assert "algorithms/members/crash.py" in b.files and "instruments/verse-vocoder.toml" in b.files
        s = b.summary(trusted)
        assert s["signature"] == {"present": True, "valid": True, "key_id": s["signature"]["key_id"],
                                  "trusted": True, "reason": "signed by a trusted key"}
        assert s["generation"]["seed"] == 3 and s["render"]["engines"]["fluidsynth"].startswith("fluidsynth")
        assert b.verify_all()
        assert b.signature({}).trusted is False and b.signature({}).valid is True


def test_extract_writes_only_inside_the_target(good_bundle, tmp_path):
    with open_bundle(good_bundle) as b:
        written = extract(b, tmp_path / "out")
        assert (tmp_path / "out" / "audio" / "master.flac").is_file()
        assert all(str(p).startswith(str(tmp_path / "out")) for p in written)
        with pytest.raises(spec.UnsafeBundle):
            extract(b, tmp_path / "out")  # never overwrites


def test_tampered_member_fails_integrity(good_bundle, tmp_path, trusted):
    bad = rewrite(good_bundle, tmp_path / "t.shf",
                  change=lambda n, d: d.replace(b"Form", b"F0rm", 1) if n == "algorithms/members/form.py" else d)
    with open_bundle(bad) as b:
        with pytest.raises(spec.IntegrityError, match="form.py"):
            b.verify_all()
        with pytest.raises(spec.IntegrityError):
            extract(b, tmp_path / "x")
    assert not any((tmp_path / "x").rglob("*.py"))


def test_edited_manifest_breaks_the_signature(good_bundle, tmp_path, trusted):
    bad = rewrite(good_bundle, tmp_path / "m.shf", manifest_change=lambda m: m.update(title="Not ours"))
    with open_bundle(bad) as b:
        sig = b.signature(trusted)
        assert sig.present and not sig.valid and "does not match" in sig.reason


def test_unsigned_and_untrusted(good_bundle, tmp_path, trusted):
    unsigned = rewrite(good_bundle, tmp_path / "u.shf", drop=("shf.sig",))
    with open_bundle(unsigned) as b:
        assert b.signature(trusted).present is False
    other = rewrite(good_bundle, tmp_path / "o.shf", key=Ed25519PrivateKey.generate())
    with open_bundle(other) as b:
        s = b.signature(trusted)
        assert s.valid and not s.trusted


def test_unknown_version(good_bundle, tmp_path):
    bad = rewrite(good_bundle, tmp_path / "v.shf", manifest_change=lambda m: m.update(version=99))
    with pytest.raises(spec.UnknownVersion, match="99"):
        open_bundle(bad)


def _entry(name, mode=0o100644):
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = mode << 16
    return info


@pytest.mark.parametrize("name", ["../evil.py", "/etc/evil", "algorithms/../../evil", "a\\..\\evil", "algorithms//x.py",
                                  "C:/evil", "algorithms/./x.py"])
def test_path_traversal_refused(good_bundle, tmp_path, name):
    bad = rewrite(good_bundle, tmp_path / "p.shf", add=[(_entry(name), b"print('pwned')")])
    with pytest.raises(spec.UnsafeBundle):
        open_bundle(bad)
    assert not (tmp_path.parent / "evil.py").exists()


def test_symlink_member_refused(good_bundle, tmp_path):
    bad = rewrite(good_bundle, tmp_path / "l.shf", add=[(_entry("algorithms/link.py", 0o120777), b"/etc/passwd")])
    with pytest.raises(spec.UnsafeBundle, match="symbolic link"):
        open_bundle(bad)


def test_unlisted_member_refused(good_bundle, tmp_path):
    bad = rewrite(good_bundle, tmp_path / "x.shf", add=[(_entry("algorithms/extra.py"), b"x = 1")])
    with pytest.raises(spec.UnsafeBundle, match="not in the manifest"):
        open_bundle(bad)


def test_zip_bomb_refused(good_bundle, tmp_path):
    bomb = b"\0" * (64 << 20)
    name = "audio/stems/bomb.flac"

    def listed(m):
        m["files"][name] = {"role": "stem", "size": len(bomb), "sha256": hashlib.sha256(bomb).hexdigest()}
    info = _entry(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    bad = rewrite(good_bundle, tmp_path / "b.shf", add=[(info, bomb)], manifest_change=listed)
    with zipfile.ZipFile(bad) as z:
        assert z.getinfo(name).compress_size < 1 << 20
    with pytest.raises(spec.UnsafeBundle, match="zip bomb"):
        open_bundle(bad)


def test_oversized_member_refused(good_bundle, tmp_path):
    def big(m):
        m["files"]["algorithms/members/form.py"]["size"] = 10 << 20
    bad = rewrite(good_bundle, tmp_path / "s.shf", manifest_change=big)
    with pytest.raises(spec.UnsafeBundle, match="size limit"):
        open_bundle(bad)


def test_lying_sizes_are_caught_while_streaming(good_bundle, tmp_path):
    # a member whose local data is longer than the manifest claims: refused, nothing extracted
    def lie(m):
        e = m["files"]["render/settings.json"]
        e["size"] = e["size"] - 5
    bad = rewrite(good_bundle, tmp_path / "z.shf", manifest_change=lie)
    with pytest.raises(spec.IntegrityError):
        open_bundle(bad)


def test_not_a_bundle(tmp_path):
    (tmp_path / "a.shf").write_bytes(b"hello")
    with pytest.raises(spec.NotSHF):
        open_bundle(tmp_path / "a.shf")


def test_extract_refuses_a_symlinked_folder_in_the_target(good_bundle, tmp_path):
    target = tmp_path / "t"
    (target).mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, target / "audio")
    with open_bundle(good_bundle) as b:
        with pytest.raises(spec.UnsafeBundle, match="outside"):
            extract(b, target)
    assert not any(outside.iterdir())
    assert not (target / "shf.json").exists()
