"""The `scripthammer` command: set-up, the main job, worker, seed, upload, jobs, tokens."""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import sqlalchemy as sa
from tqdm import tqdm

from companion.config import Config
from companion.algorithms.cli import generate_cmd
from companion.analytics.cli import analytics as analytics_grp
from companion.clictx import config as _config
from companion.clictx import services as _services
from companion.compositions.cli import compositions as compositions_grp
from companion.render.cli import render_cmd
from companion.rights.cli import rights as rights_grp
from companion.samples.cli import samples as samples_grp
from companion.shf.cli import shf as shf_grp


@click.group()
@click.version_option(package_name="scripthammer")
def main():
    """ScriptHammer music companion."""


for _cmd in (compositions_grp, generate_cmd, render_cmd, shf_grp, samples_grp, rights_grp, analytics_grp):
    main.add_command(_cmd)


@main.command("migrate")
def migrate_cmd():
    """Apply database migrations."""
    from companion.db import upgrade

    cfg = _config()
    upgrade(cfg.database_url)
    click.echo(f"database at {cfg.database_url.split('@')[-1]} is up to date")
    _library_defaults(_services())


def _library_defaults(svc) -> None:
    """The band's default instruments into the sample library (idempotent)."""
    from companion.errors import ScriptHammerError
    from companion.samples.defaults import migrate_defaults

    try:
        res = migrate_defaults(svc)
    except ScriptHammerError as exc:  # e.g. the SoundFont is not installed: renders will say so too
        click.echo(f"sample library: the default instruments were not added: {exc.message}", err=True)
        return
    if res["commit"] is not None:
        click.echo(f"sample library: the default SoundFont for {len(res['instruments'])} instruments")


@main.command("seed")
@click.option("--demo/--no-demo", default=False, help="Also create the demo album and track.")
@click.option("--demo-seconds", default=45, show_default=True, help="Length of the demo piece.")
def seed_cmd(demo: bool, demo_seconds: int):
    """Seed the band from the band file (idempotent); print first tokens once."""
    svc = _services()
    _seed(svc)
    if demo:
        _seed_demo(svc, demo_seconds, inline=True)


def _seed(svc) -> None:
    from companion.band.models import ApiToken
    from companion.band.service import seed_members
    from companion.band.tokens import create_token
    from companion.db import upgrade

    upgrade(svc.config.database_url)
    _library_defaults(svc)
    with svc.db.session() as s:
        ids = seed_members(s, svc.band)
        click.echo(f"band seeded: {', '.join(ids)}")
        has_tokens = s.scalars(sa.select(ApiToken.id).where(ApiToken.member_id.is_not(None))).first()
        if has_tokens is None:
            click.echo("Member tokens (shown once; keep them safe, `scripthammer tokens create` makes more):")
            for mid in ids:
                _, secret = create_token(s, role="member", member_id=mid, label="set-up", created_by="setup")
                click.echo(f"  {mid:6} {secret}")


def _seed_demo(svc, seconds: int, inline: bool) -> int:
    """The demo album and a demo track written with music21, rendered with FluidSynth, released."""
    from companion.catalog import service as catalog
    from companion.catalog.models import Album, Track
    from companion.catalog.uploads import accept_upload
    from companion.demo import render_midi, write_demo_midi

    with svc.db.session() as s:
        album = s.scalars(sa.select(Album).where(Album.slug == "blue-dot-matrix")).first()
        if album is None:
            album = catalog.create_album(s, title="Blue Dot Matrix", year=dt.date.today().year,
                                         description="ScriptHammer's debut album.", release_state="public")
        track = s.scalars(sa.select(Track).where(Track.slug == "cosmic-cycle-demo")).first()
        if track is None:
            track = catalog.create_track(s, title="Cosmic Cycle (demo)", album_id=album.id, track_number=1,
                                         year=album.year, release_state="public", slug="cosmic-cycle-demo")
        track_id, ready = track.id, track.status == "ready"
    if ready:
        click.echo(f"demo track {track_id} is already released")
        return track_id
    demo_dir = svc.config.var_dir / "demo"
    demo_dir.mkdir(parents=True, exist_ok=True)
    midi, wav = demo_dir / "cosmic-cycle.mid", demo_dir / "cosmic-cycle.wav"
    with tqdm(total=3, desc="demo", unit="step", file=sys.stderr) as bar:
        bar.set_postfix_str("writing with music21")
        write_demo_midi(midi, seconds=seconds, seed=7)
        bar.update()
        bar.set_postfix_str("rendering with FluidSynth")
        render_midi(midi, wav)
        bar.update()
        bar.set_postfix_str("queueing the release pipeline")
        job_id, _ = accept_upload(svc, track_id, wav, "cosmic-cycle.wav", _sha256(wav), created_by="setup")
        bar.update()
    if inline:
        _run_inline(svc, job_id)
    return track_id


GENERATED_ID = "orbit-of-the-blue-dot"


def _seed_generated(svc, measures: int, seed: int = 1) -> int | None:
    """A new piece written by the whole band (each member commits their part), rendered with each
    instrument's engine (FluidSynth and SuperCollider), released with an SHF download. Idempotent:
    does nothing once the piece's track exists."""
    from companion.algorithms.generate import generate
    from companion.clictx import job_summary, queue_job
    from companion.render.cli import RENDER_FUNC
    from companion.catalog.models import Track
    from companion.compositions.rights import member_actor
    from companion.compositions.store import Store

    with svc.db.session() as s:
        existing = s.scalars(sa.select(Track).where(Track.title == "Orbit of the Blue Dot")).first()
        if existing is not None:
            return existing.id
    store = Store(svc.config.compositions_dir)
    leader = svc.band.leader
    if store.exists(GENERATED_ID):
        return None  # generated before; its render is queued or has failed (see `scripthammer jobs`)
    click.echo("the band is writing a new piece: Form, Ivory, Chops, Crash, Reed, Brass, Verse...")
    res = generate(store, svc.band, member_actor(svc.band, leader), comp_id=GENERATED_ID,
                   title="Orbit of the Blue Dot", seed=seed, measures=measures, visibility="public")
    click.echo(f"  {len(res['commits'])} commits on branch {res['branch']}; rendering and releasing")
    job_id = queue_job(svc, "render", {"composition": res["composition"], "commit": res["head"], "settings": {},
                                       "publish": True, "title": "Orbit of the Blue Dot", "stems": False},
                       RENDER_FUNC, leader, inline=False)
    _follow(svc, job_id)
    result = job_summary(svc, job_id)["result"] or {}
    track_id = result.get("track_id")
    if track_id:
        with svc.db.session() as s:  # the demo site shows it to everyone
            track = s.get(Track, track_id)
            track.release_state, track.year = "public", dt.date.today().year
    for follow_up in ("release_job", "shf_job"):  # the release, then the SHF joining the track
        if result.get(follow_up):
            _follow(svc, result[follow_up])
    return track_id


def _sha256(path: Path) -> str:
    from companion.storage.base import sha256_file

    return sha256_file(path)


def _run_inline(svc, job_id: str) -> None:
    """Run a queued release job in this process (no worker needed), showing its progress."""
    import threading

    from jobs.release import release_track

    done: dict = {}
    t = threading.Thread(target=lambda: done.setdefault("r", release_track(job_id)), daemon=True)
    t.start()
    _follow(svc, job_id, thread=t)


def _follow(svc, job_id: str, thread=None, timeout: float = 3600) -> str:
    from companion.tasks.models import Job

    deadline = time.time() + timeout
    with tqdm(total=100, desc=f"job {job_id[:8]}", unit="%", file=sys.stderr) as bar:
        while time.time() < deadline:
            with svc.db.session() as s:
                job = s.get(Job, job_id)
                state, progress, stage = job.state, job.progress, job.stage
                err = job.error_message
            bar.n = progress
            bar.set_postfix_str(f"{state} {stage}")
            bar.refresh()
            if state in ("finished", "failed") and (thread is None or not thread.is_alive()):
                break
            time.sleep(0.3)
    if state == "failed":
        click.echo(f"job {job_id} failed: {err}", err=True)
    return state


@main.command("upload")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--track", "track_id", type=int, help="Upload to this track id.")
@click.option("--title", help="Create a new track with this title instead.")
@click.option("--album", "album_id", type=int, help="Album of the new track.")
@click.option("--inline", is_flag=True, help="Run the pipeline in this process instead of on a worker.")
@click.option("--no-wait", is_flag=True, help="Queue and return at once.")
def upload_cmd(file: Path, track_id: int | None, title: str | None, album_id: int | None, inline: bool,
               no_wait: bool):
    """Upload a recording to a track and follow the release pipeline."""
    from companion.catalog import service as catalog
    from companion.catalog.uploads import accept_upload
    from companion.errors import ScriptHammerError

    if not track_id and not title:
        raise click.UsageError("give --track ID or --title TITLE")
    svc = _services()
    try:
        if not track_id:
            with svc.db.session() as s:
                track_id = catalog.create_track(s, title=title, album_id=album_id).id
            click.echo(f"created track {track_id}")
        with tqdm(total=file.stat().st_size, unit="B", unit_scale=True, desc="hashing", file=sys.stderr) as bar:
            h = hashlib.sha256()
            with open(file, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
                    bar.update(len(block))
        job_id, _ = accept_upload(svc, track_id, file, file.name, h.hexdigest(), created_by="cli")
    except ScriptHammerError as exc:
        raise click.ClickException(f"{exc.message} ({exc.code})") from None
    click.echo(f"track {track_id}: release job {job_id} queued")
    if inline:
        _run_inline(svc, job_id)
    elif not no_wait:
        state = _follow(svc, job_id)
        if state != "finished":
            sys.exit(1)


@main.command("jobs")
@click.option("--limit", default=20, show_default=True)
def jobs_cmd(limit: int):
    """Recent jobs with their state and progress."""
    from companion.tasks.models import Job

    svc = _services()
    with svc.db.session() as s:
        rows = list(s.scalars(sa.select(Job).order_by(Job.created_at.desc()).limit(limit)))
    if not rows:
        click.echo("no jobs yet")
    for j in rows:
        err = f"  {j.error_code}: {j.error_message[:80]}" if j.error_code else ""
        click.echo(f"{j.id}  {j.kind:8} {j.state:9} {j.progress:3}%  track {j.track_id}  "
                   f"{j.created_at:%Y-%m-%d %H:%M:%S}  {j.stage}{err}")


@main.group("cache")
def cache_grp():
    """The release pipeline's local cache of untagged encodes."""


@cache_grp.command("prune")
@click.option("--days", default=14.0, show_default=True, help="Remove entries unused for this many days.")
def cache_prune(days: float):
    """Remove cached encodes not used for --days (they are rebuilt when needed)."""
    from companion.media.pipeline import prune_cache

    removed = prune_cache(_config().work_dir / "release", days)
    click.echo(f"removed {removed} cached file(s)")


def _queue_kinds(ctx, param, value: str | None) -> list[str] | None:
    from companion.tasks.queues import UnknownQueue, check_kinds

    if not value:
        return None
    try:
        return check_kinds(k for k in value.split(",") if k.strip())
    except UnknownQueue as exc:
        raise click.BadParameter(str(exc)) from None


@main.command("worker")
@click.option("--queues", "kinds", callback=_queue_kinds, metavar="KIND,...",
              help="Work only these queues (release, render, publish, commerce, live, analytics, default); "
                   "default: all of them.")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--name", default=None, help="The worker's name in RQ (default: a random one).")
def worker_cmd(kinds: list[str] | None, burst: bool, name: str | None):
    """Run an RQ worker on the companion's queues (each queue can have workers of its own)."""
    from jobs.worker import run_worker

    run_worker(_config(), queues=kinds, burst=burst, name=name)


def _worker_groups(cfg: Config) -> list[list[str]]:
    from companion.tasks.queues import UnknownQueue, parse_groups

    try:
        return parse_groups(cfg.worker_groups)
    except UnknownQueue as exc:
        raise click.ClickException(f"SCRIPTHAMMER_WORKER_GROUPS: {exc}") from None


def _start(cmd: list[str], env: dict) -> subprocess.Popen:
    """A child in a process group of its own (so that stopping it stops whatever it started too)."""
    return subprocess.Popen(cmd, env=env, start_new_session=True)


def _stop_all(procs: list[subprocess.Popen], timeout: float = 10) -> None:
    """SIGTERM each child's process group (newest first), again a second later (an RQ worker's cold
    shutdown: it stops its work horse, which runs in a group of its own), then SIGKILL what is left
    after ``timeout``."""
    for p in reversed(procs):
        _signal_group(p, signal.SIGTERM)
    for _ in range(10):
        if all(p.poll() is not None for p in procs):
            break
        time.sleep(0.1)
    for p in reversed(procs):
        if p.poll() is None:
            _signal_group(p, signal.SIGTERM)
    deadline = time.time() + timeout
    for p in procs:
        try:
            p.wait(max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            pass
    for p in procs:
        _signal_group(p, signal.SIGKILL)  # the group too: a child's own children may outlive it
        if p.poll() is None:
            p.wait(5)


def _signal_group(p: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(p.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


@main.group("tokens")
def tokens_grp():
    """Create and revoke API tokens (local administration)."""


@tokens_grp.command("create")
@click.option("--member", "member_id", help="A band member id (their role comes from the band file).")
@click.option("--role", type=click.Choice(["member", "guest", "listener", "service"]), default="member")
@click.option("--label", default="cli")
@click.option("--minutes", type=int, help="Expire after this many minutes (guests must).")
def tokens_create(member_id, role, label, minutes):
    """Print a new token once."""
    from companion.band.tokens import create_token
    from companion.errors import ScriptHammerError

    svc = _services()
    try:
        with svc.db.session() as s:
            _, secret = create_token(s, role=role, member_id=member_id, label=label, created_by="cli",
                                     expires_in=dt.timedelta(minutes=minutes) if minutes else None)
    except ScriptHammerError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(secret)


@main.group("commerce")
def commerce_grp():
    """WooCommerce: reconcile entitlements with the store's orders and subscriptions."""


@commerce_grp.command("reconcile")
@click.option("--full", is_flag=True, help="Read every order and subscription, not only recent changes.")
@click.option("--inline", is_flag=True, help="Run here instead of on a worker.")
def commerce_reconcile(full: bool, inline: bool):
    """Repair entitlements from WooCommerce's REST API (a missed webhook), with progress."""
    from companion.commerce import reconcile as reconciling
    from companion.errors import ScriptHammerError

    svc = _services()
    if inline:
        bar = tqdm(total=100, unit="%", desc="reconcile")

        def progress(pct: int, stage: str) -> None:
            bar.set_postfix_str(stage)
            bar.update(max(0, pct - bar.n))

        try:
            result = reconciling.reconcile(svc, full=full, progress=progress)
        except ScriptHammerError as exc:  # WooCommerceUnavailable too
            raise click.ClickException(exc.message) from None
        finally:
            bar.close()
        click.echo(f"orders {result['orders']}, subscriptions {result['subscriptions']}, "
                   f"changed {result['changed']}, older than applied {result['stale']}")
        return
    try:
        job_id = reconciling.request_reconcile(svc, full=full, created_by="cli")
    except ScriptHammerError as exc:
        raise click.ClickException(exc.message) from None
    state = _follow(svc, job_id)
    if state != "finished":
        raise click.ClickException(f"reconciliation {state}: see `scripthammer jobs`")


def _schedule_reconcile(svc) -> None:
    """With WooCommerce's REST API configured, the workers' scheduler reconciles every N minutes."""
    from companion.commerce import reconcile as reconciling

    try:
        if reconciling.schedule_next(svc, minutes=1):
            click.echo(f"WooCommerce reconciliation every {svc.config.commerce_reconcile_minutes} min (first in 1 min)")
    except Exception as exc:  # noqa: BLE001 - Redis trouble must not stop `up`
        click.echo(f"could not schedule WooCommerce reconciliation: {exc}", err=True)


def ensure_redis(cfg: Config) -> subprocess.Popen | None:
    """Start a local redis-server when the configured local Redis is not answering."""
    import redis

    try:
        redis.Redis.from_url(cfg.redis_url, socket_connect_timeout=1, **cfg.redis_options()).ping()
        return None
    except redis.ConnectionError:
        pass
    from urllib.parse import urlparse

    u = urlparse(cfg.redis_url)
    if u.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise click.ClickException(f"Redis at {cfg.redis_url} is not answering")
    exe = shutil.which("redis-server")
    if not exe:
        raise click.ClickException("redis-server is not installed (run scripts/setup.sh)")
    data = cfg.var_dir / "redis"
    data.mkdir(parents=True, exist_ok=True)
    args = [exe, "--bind", "127.0.0.1", "--port", str(u.port or 6379), "--dir", str(data),
            "--save", "60 1", "--appendonly", "yes", "--appendfsync", "everysec"]
    if cfg.redis_password:
        args += ["--requirepass", cfg.redis_password]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, start_new_session=True)
    for _ in range(50):
        try:
            redis.Redis.from_url(cfg.redis_url, socket_connect_timeout=1, **cfg.redis_options()).ping()
            return proc
        except redis.ConnectionError:
            time.sleep(0.1)
    raise click.ClickException("redis-server did not start")


@main.command("serve")
@click.option("--workers", default=2, show_default=True, help="gunicorn worker processes.")
def serve_cmd(workers: int):
    """Serve the API with gunicorn (foreground)."""
    cfg = _config()
    os.execvp(sys.executable, [sys.executable, "-m", "gunicorn", "-w", str(workers), "--threads", "4",
                               "-b", f"{cfg.host}:{cfg.port}", "--timeout", "600",
                               "companion.wsgi:app"])


@main.command("up")
@click.option("--demo/--no-demo", default=True, help="Seed and release the demo track.")
@click.option("--demo-seconds", default=45, show_default=True)
@click.option("--generate/--no-generate", "gen", default=True,
              help="Have the band write, render and release a new piece (with its SHF).")
@click.option("--measures", default=16, show_default=True, help="Length of the generated piece.")
@click.option("--workers", default=1, show_default=True,
              help="RQ worker processes per queue group (SCRIPTHAMMER_WORKER_GROUPS).")
def up_cmd(demo: bool, demo_seconds: int, gen: bool, measures: int, workers: int):
    """The main job: Redis, RQ workers (one per queue group) and the API, with the band and a demo track."""
    cfg = _config()
    groups = _worker_groups(cfg)
    procs: list[subprocess.Popen] = []
    redis_proc = ensure_redis(cfg)
    if redis_proc:
        procs.append(redis_proc)
    svc = _services()
    _seed(svc)
    env = dict(os.environ)
    for group in groups:
        for _ in range(workers):
            procs.append(_start([sys.executable, "-m", "companion.cli", "worker", "--queues", ",".join(group)], env))
        click.echo(f"worker(s) for the queue(s) {', '.join(group)}: {workers}")
    if cfg.analytics_ingest == "stream":
        procs.append(_start([sys.executable, "-m", "companion.cli", "analytics", "consume"], env))
        click.echo("analytics consumer: 1 (scale with `scripthammer analytics consume`)")
    procs.append(_start([sys.executable, "-m", "gunicorn", "-w", "2", "--threads", "4",
                         "-b", f"{cfg.host}:{cfg.port}", "--timeout", "600", "--access-logfile", "-",
                         "companion.wsgi:app"], env))
    _schedule_reconcile(svc)

    def stop(*_):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _stop_all([p for p in procs if p is not redis_proc])  # Redis last: workers finish talking to it
        if redis_proc:
            _stop_all([redis_proc])
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        track_id = None
        if demo:
            track_id = _seed_demo(svc, demo_seconds, inline=False)
            from companion.catalog.models import Track
            from companion.tasks.models import Job

            with svc.db.session() as s:
                job = s.scalars(sa.select(Job).where(Job.track_id == track_id).order_by(Job.created_at.desc())).first()
                ready = s.get(Track, track_id).status == "ready"
            if job is not None and not ready:
                _follow(svc, job.id)
        generated_id = _seed_generated(svc, measures) if gen else None
        base = f"http://{cfg.host}:{cfg.port}"
        click.echo("\nScriptHammer companion is up:")
        click.echo(f"  API docs      {base}/api/docs")
        click.echo(f"  OpenAPI       {base}/api/openapi.json")
        click.echo(f"  Band          {base}/api/members")
        click.echo(f"  Tracks        {base}/api/tracks")
        click.echo(f"  Health        {base}/api/health")
        for tid in (track_id, generated_id):
            if tid:
                click.echo(f"  Player        {base}/embed/track/{tid}")
        click.echo("Press Ctrl-C to stop.", err=False)
        sys.stdout.flush()
        while all(p.poll() is None for p in procs):
            time.sleep(1)
        click.echo("a service stopped; shutting down", err=True)
    finally:
        stop()


if __name__ == "__main__":
    main()
