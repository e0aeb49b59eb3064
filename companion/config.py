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
    # Redis (the job queues, nonces, rate limits): keep it on localhost or a private network. AUTH:
    # redis_password (and redis_username for an ACL user) or a password in the URL; TLS: a
    # rediss:// URL, with the CA (and a client certificate, if Redis asks for one) below.
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_username: str = ""
    redis_password: str = ""
    redis_tls_ca_file: str = ""
    redis_tls_cert_file: str = ""
    redis_tls_key_file: str = ""
    redis_tls_verify: bool = True
    # The queues' names in Redis are "<queue_name>:<kind>" (companion/tasks/queues.py); `scripthammer up`
    # starts one worker per group of worker_groups ("," within a group, ";" between groups).
    queue_name: str = "scripthammer"
    worker_groups: str = "publish,commerce,default;release;render;live,analytics"
    # How fast a dead worker's job is found and retried: workers beat every worker_monitor_seconds, a
    # job is abandoned worker_heartbeat_grace seconds after its worker's last beat, and workers look
    # for abandoned jobs every worker_maintenance_seconds.
    worker_monitor_seconds: int = 10
    worker_heartbeat_grace: int = 60
    worker_maintenance_seconds: int = 30
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
    # "local": compositions_dir holds the repositories (one machine). "shared": git objects in the object
    # store above, refs in the database, compositions_dir only a cache (any number of machines).
    composition_store: str = "local"
    # The player's tip jar and unlock links (the WordPress site's WooCommerce tip product).
    tip_url: str = ""
    tip_product_id: str = ""
    tip_currency: str = "USD"
    tip_presets: str = "3,5,10"
    unlock_url: str = ""
    # Apps sign fans in with the device authorization grant (RFC 8628, companion/access/device.py):
    # the public clients ("id=Name,id=Name"), the page on WordPress where a fan types the code (empty:
    # wp_url + "/?scripthammer_device=1"), how long a code lives, the least seconds between polls and
    # how long an app's refresh token lasts; asking for codes and polling, per client address.
    device_clients: str = "scripthammer-app=ScriptHammer app"
    device_verification_url: str = ""
    device_code_seconds: int = 600
    device_poll_interval: int = 5
    device_refresh_days: int = 30
    device_rate_limit: str = "60 per minute"
    # Web Push (companion/notify): the VAPID private key (base64url of the 32-byte P-256 scalar; default:
    # a machine key at var/keys/vapid.key), the contact the push services see, and origins of push
    # services that may be plain http or on a private network (empty: none; only for a local stand-in).
    vapid_private_key: str = ""
    vapid_subject: str = "mailto:band@scripthammer.invalid"
    push_trusted_origins: str = ""
    # Signed delivery (companion/access): the secret /media URLs are signed with (default: a random
    # key made on first use at var/keys/delivery.key), and how long signed URLs live.
    delivery_secret: str = ""
    stream_url_seconds: int = 900  # per-listener HLS: this plus the track's length
    download_url_seconds: int = 3600  # download links, like Bandcamp's: hours at most
    # WooCommerce (docs/commerce.md): webhooks are signed with wc_webhook_secret (empty: derived from
    # wp_shared_secret, as the plugin derives it); reconciliation reads its REST API at wc_url (empty:
    # wp_url) with a read-only consumer key and secret, every commerce_reconcile_minutes (0: never).
    wc_webhook_secret: str = ""
    wc_url: str = ""
    wc_consumer_key: str = ""
    wc_consumer_secret: str = ""
    wc_timeout: float = 20.0
    commerce_reconcile_minutes: int = 60
    # A subscription stays entitled this long past its next payment date (renewals can be late).
    commerce_grace_hours: int = 48
    # Prices (docs/pricing.md): a TOML file of price models replacing the defaults in
    # companion/commerce/pricing.py; what the leader saves with PUT /api/pricing wins over both.
    pricing_file: str = ""
    # Rights (docs/rights.md): the secret watermark key (default: a random key made on first use at
    # var/keys/watermark.key; every companion that marks or detects must share it).
    watermark_key: str = ""
    # A/B stream marks (docs/watermark.md "Streams"): premium tracks are released with two marked
    # variants of their HLS ladder, and each listener's playlist picks one per segment. The key is
    # secret and must be set (SCRIPTHAMMER_STREAM_MARK_KEY, at least 16 characters) for premium
    # releases while ab_streams is on; the variants roughly double the ladder's encoding time.
    ab_streams: bool = True
    stream_mark_key: str = ""
    # The rungs (kbps, of hls_bitrates) marked for premium listeners; empty: every rung. Premium
    # listeners are served only the marked rungs (fewer rungs: less encoding, less choice of quality).
    ab_bitrates: str = ""
    # SHF: the band's Ed25519 signing key (PEM) and a folder of trusted public keys.
    # Default: var/keys/band-ed25519.pem (made on first use, mode 0600) and var/keys/trusted/.
    shf_signing_key: str = ""
    shf_trusted_keys_dir: str = ""
    max_upload_mb: int = 1024
    # The sample library: the largest sample or SoundFont it takes (MB), the longest recording it
    # decodes (seconds, whatever a header claims), the most samples one recording is sliced into.
    sample_max_mb: int = 512
    sample_max_seconds: int = 900
    sample_max_slices: int = 256
    # Smaller limits where a large body is never legitimate (a 413 states the limit).
    composition_import_max_mb: int = 8
    signed_body_max_kb: int = 1024
    # Rate limits (Flask-Limiter on Redis, "N per second|minute|hour|day", several joined by ";"):
    # requests that present credentials which fail (401) and playback beacons, per client address.
    auth_failure_limit: str = "20 per minute"
    # Every route, per client address and route, whoever calls (429 with Retry-After beyond; empty: none).
    public_rate_limit: str = "3000 per minute;200 per second"
    beacon_rate_limit: str = "120 per minute"
    # /media: a key found public is remembered by each process this many seconds before the catalog is
    # asked again (0: ask on every request), and so is an anonymous caller's view of a released track (its
    # JSON and embed page). A catalog change made in the process clears both at once; other processes see
    # it within this time (browsers and CDNs keep public objects an hour).
    public_key_cache_seconds: float = 5.0
    # Fans' timed reactions and comments (docs/feedback.md): per listener (signed-in fan), not per address.
    feedback_rate_limit: str = "10 per minute;100 per day"
    # Analytics (docs/analytics.md): "stream" puts beacons on a Redis stream that consumers
    # (`scripthammer analytics consume`) write in batches; "direct" inserts them in the request.
    # analytics_consent "required" stores beacons only from players that say the listener consented;
    # day partitions (PostgreSQL) older than analytics_retention_days are dropped (0: kept).
    analytics_ingest: str = "stream"
    analytics_consent: str = "implied"
    analytics_retention_days: int = 0
    analytics_batch: int = 500
    # A consumer lowers its CPU priority by this much (nice): on a machine shared with the API, a beacon's
    # request goes before the batch writes, and the stream holds what the consumers have not written yet.
    analytics_consumer_nice: int = 5
    analytics_claim_idle_seconds: int = 30
    # Rollups (companion/analytics/rollups.py): a consumer rolls today and yesterday every N minutes
    # (0: only by the CLI and the job); yesterday is rolled again until late_hours after its end.
    analytics_rollup_minutes: int = 10
    analytics_rollup_late_hours: float = 2.0
    loudness_target_lufs: float = -14.0
    true_peak_ceiling_db: float = -1.0
    hls_bitrates: str = "48,96,192"
    hls_segment_seconds: int = 4
    preview_seconds: int = 30
    # A gunicorn worker (companion/wsgi.py) warms the render engines in the background when it starts
    # (render.service.warm_up: libraries loaded, one tiny built-in piece rendered, nothing stored), so the
    # studio's first quick preview does not pay for a cold engine. The test suite turns it off.
    render_warm_up: bool = True
    encode_workers: int = 0  # 0: one per core
    job_timeout: int = 3600
    job_retries: int = 3
    job_retry_intervals: str = "5,30,120"  # seconds before each retry (the last repeats)
    guest_token_max_days: int = 30
    # Live sessions (companion/live): how many run at once on this companion, the JACK period (frames),
    # the live HLS segment length (s), how far ahead of its bar line a bar is sent to scsynth (s), and the
    # audience's votes per client address, and whether listeners get WebRTC (Janus) besides HLS.
    live_max_sessions: int = 2
    live_jack_period: int = 1024
    live_hls_seconds: float = 1.0
    live_lookahead: float = 0.3
    live_vote_rate_limit: str = "30 per minute"
    live_runner: str = "thread"  # thread: in the companion process that starts it; queue: a "live" queue worker
    live_webrtc: bool = True  # each session also on a Janus of its own (WebRTC listeners); False: HLS only
    # packets (20 ms each) Janus' members' room holds per participant before mixing them: latency against
    # dropouts on a jittery network (1: bench/live.py's member_to_member_ms 110 on loopback; 3: 175); at 0 Janus
    # mixes nothing of the participant (bench/live.py heard 0 of 5 beeps), so 1 is the floor
    live_room_prebuffer: int = 1
    # TURN (coturn's REST API credentials, use-auth-secret): the ICE servers handed to WebRTC peers
    turn_urls: str = ""  # comma-separated, e.g. "turn:turn.example.org:3478?transport=udp,turns:turn.example.org:5349"
    turn_secret: str = ""  # coturn's static-auth-secret
    turn_ttl: int = 3600  # seconds a TURN credential lasts
    testing: bool = False

    def __post_init__(self) -> None:
        self.var_dir = Path(self.var_dir)
        if not self.database_url:
            self.database_url = f"sqlite:///{self.var_dir / 'companion.db'}"
        if not self.storage_dir:
            self.storage_dir = str(self.var_dir / "objects")
        if not self.compositions_dir:
            self.compositions_dir = str(self.var_dir / "compositions")
        if self.composition_store not in ("local", "shared"):
            raise ValueError(f"unknown composition store {self.composition_store!r} (use 'local' or 'shared')")
        if not self.band_file:
            self.band_file = str(Path(__file__).parent / "band" / "band.toml")
        if int(self.live_room_prebuffer) < 1:  # Janus' AudioBridge mixes nothing of a participant at 0
            raise ValueError(f"SCRIPTHAMMER_LIVE_ROOM_PREBUFFER is at least 1 packet, not {self.live_room_prebuffer!r}")

    @property
    def work_dir(self) -> Path:
        """Scratch space for jobs (same filesystem as var, so renames are atomic)."""
        return self.var_dir / "work"

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb) * 1024 * 1024

    @property
    def sample_max_bytes(self) -> int:
        return int(self.sample_max_mb) * 1024 * 1024

    @property
    def composition_import_max_bytes(self) -> int:
        return int(self.composition_import_max_mb) * 1024 * 1024

    @property
    def signed_body_max_bytes(self) -> int:
        return int(self.signed_body_max_kb) * 1024

    @property
    def retry_intervals(self) -> list[int]:
        """Seconds before retry 1, 2, ... (job_retries of them; the last interval repeats)."""
        steps = [max(0, int(x)) for x in str(self.job_retry_intervals).split(",") if x.strip()] or [0]
        return [steps[min(i, len(steps) - 1)] for i in range(max(0, int(self.job_retries)))]

    def redis_options(self) -> dict[str, Any]:
        """Keyword arguments for ``redis.Redis.from_url(self.redis_url, ...)``: AUTH and TLS."""
        opts: dict[str, Any] = {}
        if self.redis_username:
            opts["username"] = self.redis_username
        if self.redis_password:
            opts["password"] = self.redis_password
        if self.redis_url.startswith("rediss://"):
            opts["ssl_cert_reqs"] = "required" if self.redis_tls_verify else "none"
            opts["ssl_check_hostname"] = bool(self.redis_tls_verify)
            for key, value in (("ssl_ca_certs", self.redis_tls_ca_file), ("ssl_certfile", self.redis_tls_cert_file),
                               ("ssl_keyfile", self.redis_tls_key_file)):
                if value:
                    opts[key] = value
        return opts

    @property
    def ab_ladder(self) -> tuple[int, ...]:
        """The rungs (kbps) of the A/B variants: ``ab_bitrates`` within the ladder, or the whole ladder."""
        wanted = {int(x) for x in str(self.ab_bitrates).split(",") if x.strip()}
        return tuple(k for k in self.hls_ladder if not wanted or k in wanted) or self.hls_ladder

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
        hidden = {"wp_shared_secret", "wp_app_password", "s3_secret_access_key", "delivery_secret",
                  "wc_webhook_secret", "wc_consumer_secret", "redis_password", "watermark_key", "turn_secret",
                  "stream_mark_key", "vapid_private_key"}
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = "***" if f.name in hidden and v else (str(v) if isinstance(v, Path) else v)
        out["redis_url"] = _without_password(self.redis_url)
        return out


def _without_password(url: str) -> str:
    """``redis://:secret@host/0`` -> ``redis://:***@host/0``."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if not parts.password:
        return url
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")))


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
