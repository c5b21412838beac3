"""The pool pings a connection only after it sat idle (DB_PING_IDLE_SECONDS), and such a ping still
replaces a connection the server dropped, so the unit of work that checks it out does not fail."""
from __future__ import annotations

import time

import psycopg
from sqlalchemy import text

from chassis.db import ensure_database, make_engine


def _engine(env, idle: float):
    settings = env.settings().model_copy(update={"db_ping_idle_seconds": idle, "pool_size": 1,
                                                "db_max_overflow": 0})
    ensure_database("pingcheck", settings)
    engine = make_engine("pingcheck", settings)
    pings = []
    ping = engine.dialect.do_ping
    engine.dialect.do_ping = lambda conn: (pings.append(1), ping(conn))[1]
    return engine, pings


def test_a_connection_reused_at_once_is_not_pinged(env):
    engine, pings = _engine(env, 5.0)
    for _ in range(20):
        with engine.begin() as conn:
            conn.execute(text("SELECT 1"))
    assert pings == []  # 20 units of work, no round trip beside their own
    engine.dispose()


def test_after_an_idle_spell_a_dropped_connection_is_replaced_before_use(env):
    engine, pings = _engine(env, 0.2)
    with engine.begin() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    with psycopg.connect(env.settings().maintenance_db_url().replace("postgresql+psycopg", "postgresql"),
                         autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    time.sleep(0.3)
    with engine.begin() as conn:  # no error: the ping found the dead connection, the pool reconnected
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
    assert len(pings) == 1
    engine.dispose()
