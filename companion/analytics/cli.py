"""`scripthammer analytics ...`: the beacon stream's consumers, its backlog, and the day partitions."""
from __future__ import annotations

import json
import os
import signal

import click

from companion.clictx import services as _services


@click.group("analytics")
def analytics():
    """Playback analytics: stream consumers, backlog, partitions, rollups."""


@analytics.command("consume")
@click.option("--name", default=None, help="The consumer's name in the group (default: host-pid-random).")
@click.option("--batch", type=click.IntRange(1, 10_000), default=None,
              help="Stream entries per transaction (default SCRIPTHAMMER_ANALYTICS_BATCH).")
@click.option("--drain", is_flag=True, help="Stop when the stream is empty.")
def consume_cmd(name: str | None, batch: int | None, drain: bool):
    """Write beacons from the stream in batches, until stopped (SIGTERM/SIGINT end after the current batch).

    Run as many as the load needs: they share the work through one consumer group, and a dead
    consumer's unacknowledged entries are claimed by the others."""
    import logging

    from companion.analytics import ingest

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    svc = _services()
    if batch:
        svc.config.analytics_batch = batch
    name = name or ingest.consumer_name()
    if drain:
        click.echo(json.dumps({"consumer": name, "entries": ingest.drain(svc, name)}))
        return
    stopping = {"now": False}

    def stop(*_):
        stopping["now"] = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if svc.config.analytics_consumer_nice > 0:  # the API's requests first; the stream waits for us
        os.nice(min(19, svc.config.analytics_consumer_nice))
    click.echo(f"analytics consumer {name} on {ingest.stream_key(svc.config)}", err=True)
    done = ingest.consume(svc, name, stop=lambda: stopping["now"])
    click.echo(json.dumps({"consumer": name, "entries": done}))


@analytics.command("backlog")
def backlog_cmd():
    """Entries on the stream, pending per consumer."""
    from companion.analytics import ingest

    click.echo(json.dumps(ingest.backlog(_services()), indent=2))


@analytics.command("partitions")
def partitions_cmd():
    """Make the coming days' partitions and drop those past SCRIPTHAMMER_ANALYTICS_RETENTION_DAYS (PostgreSQL)."""
    from companion.analytics import ingest

    click.echo(json.dumps(ingest.maintain_partitions(_services())))


@analytics.command("rollup")
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="First UTC day to roll (default: the due days, today and yesterday).")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Last UTC day (default: --from).")
def rollup_cmd(start, end):
    """Make (or make again) the rollups the dashboard reads, for a day or a range of days."""
    from companion.analytics import rollups

    svc = _services()
    if start is None:
        with svc.db.session() as s:
            days = rollups.due_days(s, late_hours=float(svc.config.analytics_rollup_late_hours))
    else:
        days = rollups.days_between(start.date(), (end or start).date())
        if len(days) > 3660 or not days:
            raise click.BadParameter("a range of 1 to 3660 days, --from before --to", param_hint="--from")
    for r in rollups.roll(svc.db, days):
        click.echo(json.dumps(r))
