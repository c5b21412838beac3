"""Each service's own database: engine, the per-worker session dependency, database creation."""
from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from typing import Iterator

import psycopg
from nameko.extensions import DependencyProvider
from sqlalchemy import create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from chassis import metrics, tracing
from chassis.errors import DatabaseSilent, Unavailable
from chassis.outbox import OutboxRelay
from chassis.settings import Settings, get_settings

log = logging.getLogger(__name__)


def make_engine(service: str, settings: Settings | None = None, read: bool = False,
                relay: bool = False) -> Engine:
    """The service's engine; ``read``: on ``DATABASE_READ_URL`` (a replica) when it is set;
    ``relay``: the outbox relay's own, one connection without a pre-ping on checkout.

    Behind PgBouncer in transaction mode (docs/kubernetes.md, "PgBouncer"): a startup option such
    as the idle-in-transaction timeout is refused by PgBouncer (set ``DB_IDLE_IN_TRANSACTION_SECONDS=0``
    and let the server or PgBouncer's ``idle_transaction_timeout`` hold it), and a statement
    prepared on one server connection is unknown on the next (``DB_PREPARED_STATEMENTS=false``)."""
    settings = settings or get_settings()
    idle_ms = int(settings.db_idle_in_transaction_seconds * 1000)
    # A half-open client leaves its server session idle inside a transaction, holding row locks (the
    # relay's FOR UPDATE rows would be skipped for ever): the server ends such sessions itself.
    args: dict = {"options": f"-c idle_in_transaction_session_timeout={idle_ms}"} if idle_ms else {}
    if not settings.db_prepared_statements:
        args["prepare_threshold"] = None
    url = settings.service_read_db_url(service) if read else settings.service_db_url(service)
    pool_size, overflow = (1, 0) if relay else (settings.pool_size, settings.db_max_overflow)
    every_checkout = not relay and not settings.db_ping_idle_seconds
    engine = create_engine(url, pool_size=pool_size, max_overflow=overflow,
                           pool_pre_ping=every_checkout, pool_recycle=1800, connect_args=args,
                           poolclass=metrics.MeasuredQueuePool)
    if not relay and settings.db_ping_idle_seconds:
        ping_after_idle(engine, settings.db_ping_idle_seconds)
    return engine


def ping_after_idle(engine: Engine, seconds: float) -> None:
    """Ping a pooled connection on checkout only when it has been idle ``seconds`` or more (SQLAlchemy's
    "pessimistic" disconnect handling through the ``checkout`` event). Under load a connection comes
    back within milliseconds and a ping on every checkout was a round trip (and a server transaction)
    per unit of work; after a quiet spell, when a server restart is likeliest to have gone unseen,
    the ping still runs. A failed ping invalidates the whole pool, as ``pool_pre_ping`` does."""

    @event.listens_for(engine, "checkin")
    def _idle_from(dbapi_connection, record) -> None:
        record.info["idle_from"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, proxy) -> None:
        since = record.info.get("idle_from")
        if since is None or time.monotonic() - since < seconds:
            return  # just connected, or in use a moment ago
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise sa_exc.InvalidatePoolError(f"pooled connection failed its ping: {type(exc).__name__}") from exc
        if not alive:
            raise sa_exc.InvalidatePoolError("pooled connection did not answer its ping")


def ensure_database(service: str, settings: Settings | None = None) -> bool:
    """Create the service's database if it does not exist; True if it was created."""
    settings = settings or get_settings()
    name = settings.db_prefix + service
    url = make_url(settings.maintenance_db_url())
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return False
        try:
            conn.execute(f'CREATE DATABASE "{name}"')
        except psycopg.errors.DuplicateDatabase:
            return False
    log.info("created database %s", name)
    return True


def bound_silence(engine: Engine, seconds: float) -> None:
    """Services only (eventlet): a half-open connection (the peer gone without a FIN, or a frozen
    server) would otherwise hold a worker, or the relay, for ever (docs/drills.md). Every
    statement and every pool pre-ping runs under an eventlet timer; on expiry the statement's
    connection is dropped, and a silent ping invalidates the pool so the next checkout connects
    afresh. PostgreSQL's own ``statement_timeout`` cannot help: the server never got the bytes."""
    import eventlet

    if not seconds:
        return

    @event.listens_for(engine, "before_cursor_execute")
    def _arm(conn, cursor, statement, parameters, context, executemany):
        conn.info["silence_timer"] = eventlet.Timeout(seconds, DatabaseSilent(
            f"PostgreSQL silent for {seconds:g} s"))

    def _disarm(conn) -> None:
        timer = conn.info.pop("silence_timer", None)
        if timer is not None:
            timer.cancel()

    @event.listens_for(engine, "after_cursor_execute")
    def _done(conn, *_):
        _disarm(conn)

    @event.listens_for(engine, "handle_error")
    def _failed(ctx) -> None:  # must return None: a returned value replaces the exception
        if ctx.connection is not None:
            _disarm(ctx.connection)

    ping = engine.dialect.do_ping

    def bounded_ping(dbapi_connection) -> bool:
        try:
            with eventlet.Timeout(seconds, DatabaseSilent()):
                return ping(dbapi_connection)
        except DatabaseSilent:
            log.warning("a pooled PostgreSQL connection did not answer its ping in %g s; "
                        "the pool reconnects", seconds)
            return False  # the pool invalidates itself and checks out a fresh connection

    engine.dialect.do_ping = bounded_ping  # type: ignore[method-assign]

    # COMMIT and ROLLBACK are not cursor statements: bounded here, or a relay whose connection went
    # half-open inside a transaction would wait in its COMMIT for as long as TCP retransmits (minutes)
    def bounded(step):
        def run(dbapi_connection) -> None:
            try:
                with eventlet.Timeout(seconds, DatabaseSilent(f"PostgreSQL silent for {seconds:g} s")):
                    step(dbapi_connection)
            except DatabaseSilent:
                dbapi_connection.close()  # its protocol state is unknown: never back into the pool
                raise
        return run

    engine.dialect.do_commit = bounded(engine.dialect.do_commit)  # type: ignore[method-assign]
    engine.dialect.do_rollback = bounded(engine.dialect.do_rollback)  # type: ignore[method-assign]


class Db:
    """What a worker gets: ``with self.db.transaction() as session: ...`` commits or rolls back."""

    def __init__(self, engine: Engine, relay: OutboxRelay | None = None, read_engine: Engine | None = None):
        self.engine = engine
        self.relay = relay
        self.read_engine = read_engine or engine

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read that may lag a little (public lists, open data, feeds): on the replica of
        ``DATABASE_READ_URL`` when set, else like :meth:`transaction`. Writes here would fail."""
        if self.read_engine is self.engine:
            with self.transaction() as session:
                yield session
            return
        try:
            with Session(self.read_engine) as session, session.begin():
                yield session
        except DatabaseSilent as exc:
            log.warning("read replica connection dropped: %s", exc)
            raise Unavailable("База даних не відповідає; спробуйте пізніше", code="database_silent") from None

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        try:
            with Session(self.engine, expire_on_commit=False) as session:
                with session.begin():
                    yield session
                new_events = session.info.pop("outbox_new", None)
                if new_events and self.relay is not None:
                    self.relay.submit(new_events)
        except DatabaseSilent as exc:
            log.warning("database connection dropped: %s", exc)
            raise Unavailable("База даних не відповідає; спробуйте пізніше", code="database_silent") from None


STATEMENTS = {"count": 0}


def count_statements(engine: Engine) -> None:
    """Benchmarks and tests only (``SQL_COUNT=1``): count every SQL statement this process sends,
    the relay's included; ``health`` reports the total so a benchmark can divide by requests."""
    def counted(*_):
        STATEMENTS["count"] += 1

    event.listen(engine, "before_cursor_execute", counted)


class Database(DependencyProvider):
    """nameko dependency: the service's engine, plus its outbox relay running beside the workers."""

    def __init__(self, outbox: bool = True):
        self.outbox = outbox
        self.engine: Engine | None = None
        self.read_engine: Engine | None = None
        self.relay: OutboxRelay | None = None
        self.relay_engine: Engine | None = None

    def setup(self):
        settings = get_settings()
        service = self.container.service_name
        self.engine = make_engine(service, settings)
        bound_silence(self.engine, settings.db_silence_seconds)
        if settings.database_read_url:
            self.read_engine = make_engine(service, settings, read=True)
            bound_silence(self.read_engine, settings.db_silence_seconds)
        tracing.setup(service)
        tracing.instrument_engine(self.engine)
        metrics.install_scrape_collector(service, lambda: self.engine)
        if self.outbox:
            self.relay_engine = make_engine(service, settings, relay=True)
            bound_silence(self.relay_engine, settings.db_silence_seconds)
            self.relay = OutboxRelay(self.relay_engine, settings.amqp_uri, service,
                                     settings.outbox_poll_seconds)
        if settings.sql_count:
            for engine in (self.engine, self.relay_engine):
                if engine is not None:
                    count_statements(engine)

    def start(self):
        from chassis.ops_http import add_check

        add_check("database", self.ping)
        if self.relay is not None:
            self.container.spawn_managed_thread(self.relay.run, identifier="outbox-relay")

    def ping(self) -> str | None:
        """Readiness of this instance's database: None when a trivial query answers."""
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except Exception as exc:
            return f"database unreachable: {type(exc).__name__}"
        return None

    def stop(self):
        if self.relay is not None:
            self.relay.stop()
        for engine in (self.engine, self.read_engine, self.relay_engine):
            if engine is not None:
                engine.dispose()

    def kill(self):
        self.stop()

    def get_dependency(self, worker_ctx):
        return Db(self.engine, self.relay, self.read_engine)
