"""`scripthammer shf inspect|verify|extract|regenerate`: SHF bundles from a shell.

Opening a bundle is never running it: inspect, verify and extract work on any bundle (hostile
ones are refused with a clear error); regenerate runs the bundle's scripts only when its
signature verifies against a trusted key (the band's, plus any ``--trust`` public key files).
Exit codes: 0 ok, 1 refused or failed (the JSON error on stderr names the code), 2 verify/regenerate
ran but the bundle did not pass.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .spec import SHFError


def _config():
    from ..config import Config
    return Config.from_env()


def _trusted(trust: tuple[Path, ...], no_band_key: bool = False):
    from .keys import trusted_keys
    return trusted_keys(_config(), list(trust), include_band=not no_band_key)


def _fail(exc: SHFError) -> None:
    click.echo(json.dumps({"code": exc.code, "message": exc.message, "details": exc.details}, default=str), err=True)
    sys.exit(1)


trust_opt = click.option("--trust", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
                         help="a public key file to trust (hex or PEM); may be repeated")


@click.group("shf")
def shf() -> None:
    """SHF bundles: inspect, verify, extract, regenerate."""


@shf.command("inspect")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@trust_opt
def inspect_cmd(bundle, trust):
    """Show a bundle's manifest summary and signature (reads nothing else, runs nothing)."""
    from .reader import open_bundle
    try:
        with open_bundle(bundle) as b:
            click.echo(json.dumps(b.summary(_trusted(trust)), indent=2, default=str))
    except SHFError as exc:
        _fail(exc)


@shf.command("verify")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@trust_opt
def verify_cmd(bundle, trust):
    """Check every member's hash and the signature; show the credits the bundle carries."""
    from .reader import open_bundle
    try:
        with open_bundle(bundle) as b:
            members = b.verify_all()
            sig = b.signature(_trusted(trust))
            credits = b.credits_summary()
    except SHFError as exc:
        _fail(exc)
    out = {"members_ok": len(members), "signature": sig.to_dict(), "ok": sig.valid, "credits": credits}
    click.echo(json.dumps(out, indent=2))
    sys.exit(0 if sig.valid else 2)


@shf.command("extract")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("target", type=click.Path(file_okay=False, path_type=Path))
@click.option("--member", "members", multiple=True, help="only these members (default: all)")
def extract_cmd(bundle, target, members):
    """Extract members into TARGET (hash-checked; nothing is written outside TARGET)."""
    from .reader import extract, open_bundle
    try:
        with open_bundle(bundle) as b:
            written = extract(b, target, list(members) or None)
    except SHFError as exc:
        _fail(exc)
    click.echo(json.dumps({"written": [str(p) for p in written]}, indent=2))


@shf.command("regenerate")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@trust_opt
@click.option("--no-band-key", is_flag=True, help="do not trust the band's own key")
@click.option("--no-render", is_flag=True, help="only re-compose (compare the score, not the audio)")
@click.option("--cpu-seconds", default=60, show_default=True)
@click.option("--memory-mb", default=1536, show_default=True)
def regenerate_cmd(bundle, trust, no_band_key, no_render, cpu_seconds, memory_mb):
    """Re-create the piece from the bundle's own scripts (sandboxed) and compare it with the master."""
    from .regenerate import Limits, regenerate
    try:
        res = regenerate(bundle, _trusted(trust, no_band_key), _config().work_dir,
                         Limits(cpu_seconds=cpu_seconds, wall_seconds=cpu_seconds * 2 + 30,
                                memory_bytes=memory_mb << 20), render=not no_render)
    except SHFError as exc:
        _fail(exc)
    click.echo(json.dumps(res.to_dict(), indent=2, default=str))
    sys.exit(0 if res.ok else 2)
