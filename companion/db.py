"""Database engine, sessions and the declarative base.

The same models run on SQLite (the embedded default), PostgreSQL and MariaDB.
Schema changes are Alembic migrations in companion/migrations; ``upgrade()``
applies them.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from pathlib import Path
from typing import Iterator

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker


class Base(DeclarativeBase):
    pass


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def insert_ignoring_duplicates(session: Session, table: sa.Table, rows: list[dict]) -> None:
    """INSERT ``rows`` into ``table``, skipping those whose key is there already (PostgreSQL and SQLite:
    ON CONFLICT DO NOTHING; MariaDB: INSERT IGNORE)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
        stmt = insert(table).on_conflict_do_nothing()
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
        stmt = insert(table).on_conflict_do_nothing()
    else:
        stmt = table.insert().prefix_with("IGNORE")
    session.execute(stmt, rows)


def new_id() -> str:
    return uuid.uuid4().hex


class Database:
    """An engine and a session factory for one database URL."""

    def __init__(self, url: str):
        self.url = url
        kwargs: dict = {"future": True, "pool_pre_ping": True}
        if url.startswith("sqlite"):
            path = url.split("sqlite:///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        self.engine = sa.create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        s = self.sessions()
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def alembic_config(url: str):
    from alembic.config import Config as AlembicConfig

    here = Path(__file__).parent / "migrations"
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(here))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "heads") -> None:
    """Apply the migrations up to ``revision``."""
    from alembic import command

    if url.startswith("sqlite:///"):
        Path(url.split("sqlite:///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)
