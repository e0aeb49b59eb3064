"""Secret keys a machine makes for itself when the configuration names none (the embedded default).

Each is 32 random bytes kept as hex at ``var/keys/<name>.key`` (mode 0600), made once: the first
process to get there wins (write to a private temporary name, then ``link``), and every other
process of the machine reads the same key. Several machines must share the key through their
configuration instead (docs/deploy.md).
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path


def machine_key(var_dir: Path | str, name: str) -> bytes:
    """The machine's key ``name``, made on first use."""
    path = Path(var_dir) / "keys" / f"{name}.key"
    try:
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{name}-{secrets.token_hex(6)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32))
    try:
        os.link(tmp, path)  # the first process to get here wins; the others read its key
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
    return bytes.fromhex(path.read_text().strip())
