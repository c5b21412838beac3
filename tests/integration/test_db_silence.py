"""A half-open PostgreSQL connection inside a transaction: COMMIT and ROLLBACK must give up after
``DB_SILENCE_SECONDS`` like any statement (chassis.db.bound_silence), or the outbox relay, which
commits its claim after publishing, waits in its COMMIT for as long as TCP retransmits."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest

from tests.support.tcpproxy import TcpProxy

CHILD = textwrap.dedent("""
    import os, sys, time
    os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_selector")
    import eventlet
    eventlet.monkey_patch()
    from sqlalchemy import create_engine, text
    from chassis.db import bound_silence
    from chassis.errors import DatabaseSilent

    engine = create_engine(sys.argv[1], pool_size=1, max_overflow=0)
    bound_silence(engine, 2)
    conn = engine.connect()
    tx = conn.begin()
    conn.execute(text("SELECT 1"))
    print("ready", flush=True)
    sys.stdin.readline()  # the parent severs the connection meanwhile
    started = time.monotonic()
    try:
        getattr(tx, sys.argv[2])()
        print("finished", flush=True)
    except DatabaseSilent:
        print(f"silent {time.monotonic() - started:.1f}", flush=True)
    conn.invalidate()
    with engine.connect() as fresh:  # the pool connects afresh
        print("fresh", fresh.execute(text("SELECT 2")).scalar_one(), flush=True)
""")


@pytest.mark.parametrize("step", ["commit", "rollback"])
def test_a_commit_or_rollback_on_a_half_open_connection_gives_up_after_the_silence_bound(infra, step):
    pg_port = int(infra.database_url.rsplit(":", 1)[1].split("/")[0])
    proxy = TcpProxy("127.0.0.1", pg_port).start()
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    child = subprocess.Popen([sys.executable, "-c", CHILD, f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/postgres",
                              step], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout.readline().strip() == "ready"
        assert proxy.sever() > 0
        child.stdin.write("go\n")
        child.stdin.flush()
        started = time.monotonic()
        out, _ = child.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        child.kill()
        pytest.fail(f"{step} on a half-open connection still waiting after {time.monotonic() - started:.0f} s")
    finally:
        proxy.stop()
    lines = out.split("\n")
    assert lines[0].startswith("silent ") and float(lines[0].split()[1]) < 5, out
    assert lines[1] == "fresh 2", out
