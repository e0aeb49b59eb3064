"""The band's Ed25519 signing key and the keys a user trusts.

The signing key is a PEM (PKCS#8) private key at the configured path (``Config.shf_signing_key``
when the lead adds it; otherwise ``<var>/keys/band-ed25519.pem``). When none exists a
development key is generated there (mode 0600; var/ is never committed). Trusted keys: the
band's public key, every ``*.pub`` (raw 32-byte key as 64 hex digits, or PEM) in
``<var>/keys/trusted/``, and any the caller passes.
"""
from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_hex(public: Ed25519PublicKey) -> str:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def key_paths(config) -> tuple[Path, Path]:
    var = Path(getattr(config, "var_dir", "var"))
    signing = getattr(config, "shf_signing_key", "") or var / "keys" / "band-ed25519.pem"
    trusted = getattr(config, "shf_trusted_keys_dir", "") or var / "keys" / "trusted"
    return Path(signing), Path(trusted)


def generate_key(path: Path) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return key


def load_private(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def signing_key(config, create: bool = True) -> Ed25519PrivateKey:
    """The band's signing key (a development key is generated on first use when none is configured)."""
    path, _ = key_paths(config)
    if path.exists():
        return load_private(path)
    if not create:
        raise FileNotFoundError(f"no band signing key at {path}")
    try:
        return generate_key(path)
    except FileExistsError:  # another process made it first
        return load_private(path)


def load_public(data: bytes) -> Ed25519PublicKey:
    text = data.strip()
    if text.startswith(b"-----BEGIN"):
        key = serialization.load_pem_public_key(text)
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("not an Ed25519 public key")
        return key
    try:
        raw = bytes.fromhex(text.decode())
    except ValueError:
        raw = base64.b64decode(text)
    return Ed25519PublicKey.from_public_bytes(raw)


def trusted_keys(config, extra: list[Path] | None = None, include_band: bool = True) -> dict[str, Ed25519PublicKey]:
    out: dict[str, Ed25519PublicKey] = {}
    signing, trusted_dir = key_paths(config)
    if include_band and signing.exists():
        pub = load_private(signing).public_key()
        out[key_id(pub)] = pub
    if trusted_dir.is_dir():
        for f in sorted(trusted_dir.glob("*.pub")):
            pub = load_public(f.read_bytes())
            out[key_id(pub)] = pub
    for f in extra or ():
        pub = load_public(Path(f).read_bytes())
        out[key_id(pub)] = pub
    return out


def verify(public: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        public.verify(signature, data)
        return True
    except InvalidSignature:
        return False
