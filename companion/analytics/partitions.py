"""Day partitions of ``playback_events`` on PostgreSQL (declarative partitioning by RANGE on received_at).

:func:`ensure_partitions` makes the partitions of the coming days (and moves rows that landed in the
DEFAULT partition into the day made for them), and retires days older than the retention by detaching
and dropping them: dropping a day is instant, where a DELETE of millions of rows is not. The
``scripthammer analytics partitions`` command and the ``jobs.analytics.partitions_job`` job call it;
the ingest consumer calls it when it starts and every hour. On SQLite and MariaDB it does nothing: the
same table, without partitions.
"""
from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa

TABLE = "playback_events"
DEFAULT = f"{TABLE}_default"
_DAY = re.compile(rf"^{TABLE}_p(\d{{8}})$")


def partition_name(day: dt.date) -> str:
    return f"{TABLE}_p{day:%Y%m%d}"


def is_partitioned(conn) -> bool:
    if conn.dialect.name != "postgresql":
        return False
    return bool(conn.execute(sa.text("SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
                                     "WHERE c.relname = :t AND c.relnamespace = 'public'::regnamespace"),
                             {"t": TABLE}).first())


def list_partitions(conn) -> list[str]:
    """The partitions of the table (day partitions and the default), by name."""
    if not is_partitioned(conn):
        return []
    rows = conn.execute(sa.text("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                                "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = :t ORDER BY c.relname"),
                        {"t": TABLE})
    return [r[0] for r in rows]


def ensure_partitions(conn, *, today: dt.date | None = None, days_ahead: int = 7, retention_days: int = 0) -> dict:
    """Make the day partitions from ``today`` to ``today + days_ahead`` that are missing, and drop those that
    ended more than ``retention_days`` ago (0: keep every day). Returns {"made": [...], "dropped": [...]}.

    ``conn`` is a SQLAlchemy connection (in a transaction: the caller commits), or an engine."""
    if isinstance(conn, sa.engine.Engine):
        with conn.begin() as c:
            return ensure_partitions(c, today=today, days_ahead=days_ahead, retention_days=retention_days)
    out: dict = {"made": [], "dropped": []}
    if not is_partitioned(conn):
        return out
    today = today or dt.datetime.now(dt.timezone.utc).date()
    existing = set(list_partitions(conn))
    for n in range(days_ahead + 1):
        day = today + dt.timedelta(days=n)
        name = partition_name(day)
        if name in existing:
            continue
        lo, hi = f"{day:%Y-%m-%d} 00:00:00", f"{day + dt.timedelta(days=1):%Y-%m-%d} 00:00:00"
        # A day that already has rows in the default partition: make the table, move its rows, attach it.
        conn.execute(sa.text(f"CREATE TABLE {name} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"))
        if DEFAULT in existing:
            conn.execute(sa.text(f"WITH moved AS (DELETE FROM {DEFAULT} WHERE received_at >= :lo AND received_at < :hi "
                                 f"RETURNING *) INSERT INTO {name} SELECT * FROM moved"), {"lo": lo, "hi": hi})
        conn.execute(sa.text(f"ALTER TABLE {TABLE} ATTACH PARTITION {name} FOR VALUES FROM ('{lo}') TO ('{hi}')"))
        out["made"].append(name)
    if retention_days > 0:
        cutoff = today - dt.timedelta(days=int(retention_days))
        for name in sorted(existing):
            m = _DAY.match(name)
            if m and dt.datetime.strptime(m.group(1), "%Y%m%d").date() < cutoff:
                conn.execute(sa.text(f"ALTER TABLE {TABLE} DETACH PARTITION {name}"))
                conn.execute(sa.text(f"DROP TABLE {name}"))
                out["dropped"].append(name)
    return out
