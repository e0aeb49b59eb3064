"""Settings for the companion, read once from SCRIPTHAMMER_* environment variables.

No other module reads ``os.environ``: everything goes through :class:`Config`.
Every setting has an embedded default so that ``scripthammer up`` works with
nothing configured (SQLite and a local-folder object store under ./var, Redis on
localhost).
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Mapping

PREFIX = "SCRIPTHAMMER_"


def _default_var_dir() -> Path:
    return Path.cwd() / "var"


@dataclasses.dataclass
class Config:
    """Every setting of the companion, with its embedded default."""

    var_dir: Path = dataclasses.field(default_factory=_default_var_dir)
    database_url: str = ""  # default: sqlite under var_dir
    redis_url: str = "redis://127.0.0.1:6379/0"
    queue_name: str = "scripthammer"
    # Object store: "local" (a folder) or "s3".
    storage: str = "local"
    storage_dir: str = ""  # default: var_dir/objects
    s3_bucket: str = "scripthammer"
    s3_endpoint_url: str = ""
    s3_region: str = "us-east-1"
    s3_access_key_id: str = ""
    s3_secret_access_key: str = ""
    s3_presign_seconds: int = 3600
    public_url: str = "http://127.0.0.1:8750"
    host: str = "127.0.0.1"
    port: int = 8750
    # The shared secret WordPress and the companion sign requests with.
    wp_shared_secret: str = ""
    wp_url: str = ""
    wp_user: str = ""
    wp_app_password: str = ""
    band_file: str = ""  # default: the band file shipped in companion/band/band.toml
    compositions_dir: str = ""  # default: var_dir/compositions (one git repository per composition)
    # The player's tip jar and unlock links (the WordPress site's WooCommerce tip product).
    tip_url: str = ""
    tip_product_id: str = ""
    tip_currency: str = "USD"
    tip_presets: str = "3,5,10"
    unlock_url: str = ""
    # SHF: the band's Ed25519 signing key (PEM) and a folder of trusted public keys.
    # Default: var/keys/band-ed25519.pem (made on first use, mode 0600) and var/keys/trusted/.
    shf_signing_key: str = ""
    shf_trusted_keys_dir: str = ""
    max_upload_mb: int = 1024
    loudness_target_lufs: float = -14.0
    true_peak_ceiling_db: float = -1.0
    hls_bitrates: str = "48,96,192"
    hls_segment_seconds: int = 4
    preview_seconds: int = 30
    encode_workers: int = 0  # 0: one per core
    job_timeout: int = 3600
    job_retries: int = 3
    guest_token_max_days: int = 30
    testing: bool = False

    def __post_init__(self) -> None:
        self.var_dir = Path(self.var_dir)
        if not self.database_url:
            self.database_url = f"sqlite:///{self.var_dir / 'companion.db'}"
        if not self.storage_dir:
            self.storage_dir = str(self.var_dir / "objects")
        if not self.compositions_dir:
            self.compositions_dir = str(self.var_dir / "compositions")
        if not self.band_file:
            self.band_file = str(Path(__file__).parent / "band" / "band.toml")

    @property
    def work_dir(self) -> Path:
        """Scratch space for jobs (same filesystem as var, so renames are atomic)."""
        return self.var_dir / "work"

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb) * 1024 * 1024

    @property
    def hls_ladder(self) -> tuple[int, ...]:
        return tuple(int(x) for x in str(self.hls_bitrates).split(",") if x.strip())

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> "Config":
        """Build a Config from SCRIPTHAMMER_<NAME> variables, then apply ``overrides``."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            raw = environ.get(PREFIX + field.name.upper())
            if raw is None:
                continue
            values[field.name] = _coerce(field, raw)
        values.update(overrides)
        return cls(**values)

    def public(self) -> dict[str, Any]:
        """Settings safe to show (no secrets)."""
        hidden = {"wp_shared_secret", "wp_app_password", "s3_secret_access_key"}
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = "***" if f.name in hidden and v else (str(v) if isinstance(v, Path) else v)
        return out


def _coerce(field: dataclasses.Field, raw: str) -> Any:
    kind = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", "")
    if kind == "bool":
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    if kind == "Path":
        return Path(raw)
    return raw
