"""The outbox relay's cost per event, the way a service instance runs it, beside the way it ran before,
in the same run: CPU milliseconds per event of the relaying process and of its PostgreSQL backends,
SQL statements and transactions per event. A measure that holds on a loaded machine (CPU time, not
wall time), so each lever can be told apart.

Each variant runs in a fresh process under eventlet with ``PSYCOPG_WAIT_FUNC=wait_selector``, on a
database and exchange of its own, with a durable queue bound to it (so the broker stores what it
confirms), committing ``--events`` events one transaction each, ``--per-commit`` events per
transaction:

* ``before``: what the relay did per commit before: a kick, then a poll on the pooled engine
  (pre-ping on checkout, ``SELECT … FOR UPDATE SKIP LOCKED``, one confirm wait per event, ``UPDATE``,
  one INFO line per event), then a poll that finds nothing;
* ``after``: the relay now: the committed events handed over, one ``UPDATE … RETURNING`` claim on its
  own connection (no pre-ping), one confirm wait per batch, no empty poll;
* ``after, 10 commits a batch``: the same with ten commits waiting when the relay wakes (a loaded
  instance: the batch grows by itself).

``--impl python`` / ``binary`` chooses psycopg's implementation (``PSYCOPG_IMPL``); default: both.

    python bench/relay.py [--events 400] [--per-commit 1] [--impl python,binary]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

VARIANTS = ("before", "after", "after-batched")


def child(variant: str, events: int, per_commit: int) -> dict:
    os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_selector")
    import eventlet

    eventlet.monkey_patch()
    import logging
    import time
    import uuid

    import psycopg
    from kombu import Connection, Queue
    from sqlalchemy import event as sa_event

    from bench.cpu import cpu_seconds
    from chassis import outbox as ob
    from chassis.bus import ConfirmingPublisher, event_exchange
    from chassis.db import Db, ensure_database, make_engine
    from chassis.log import configure_logging
    from chassis.settings import Settings
    from chassis.testing import probe

    configure_logging("bench-relay", "INFO")
    logging.getLogger().handlers[0].stream = open(os.devnull, "w")  # the lines are written, not shown
    run = f"relaybench{uuid.uuid4().hex[:8]}"
    settings = Settings(db_prefix=f"{run}_")
    ensure_database("probe", settings)
    engine = make_engine("probe", settings)
    probe.create_schema(engine)
    relay_engine = make_engine("probe", settings, relay=True)
    service = run
    amqp = settings.amqp_uri
    exchange = event_exchange(service)
    with Connection(amqp) as conn:
        exchange(conn.default_channel).declare()
        Queue(f"{run}.sink", exchange=exchange, routing_key="#", durable=True)(conn.default_channel).declare()
    statements = [0]
    for e in (engine, relay_engine):
        sa_event.listen(e, "before_cursor_execute", lambda *a: statements.__setitem__(0, statements[0] + 1))
    admin = psycopg.connect(settings.maintenance_db_url().replace("postgresql+psycopg", "postgresql"),
                            autocommit=True)

    def backends() -> list[int]:
        return [r[0] for r in admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s",
                                            (f"{run}_probe",)).fetchall()]

    def xacts() -> int:
        admin.execute("SELECT pg_stat_clear_snapshot()")
        return admin.execute("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
                             (f"{run}_probe",)).fetchone()[0]

    def old_relay_pass(publisher) -> int:
        """The relay before: poll on the pooled engine, one confirm wait per event, one INFO line
        per event."""
        log = logging.getLogger("chassis.outbox")
        with engine.begin() as c:
            rows = c.execute(ob.select(ob.outbox.c.id, ob.outbox.c.event_id, ob.outbox.c.type,
                                       ob.outbox.c.envelope, ob.outbox.c.request_id)
                             .where(ob.outbox.c.published_at.is_(None)).order_by(ob.outbox.c.id)
                             .limit(100).with_for_update(skip_locked=True)).all()
            if not rows:
                return 0
            for r in rows:
                publisher.publish(dict(r.envelope), exchange=exchange, routing_key=r.type,
                                  headers={}, message_id=str(r.event_id))
            c.execute(ob.update(ob.outbox).where(ob.outbox.c.id.in_([r.id for r in rows]))
                      .values(published_at=ob.func.now()))
        for r in rows:
            log.info("event published", extra={"event_type": r.type, "event_id": str(r.event_id)})
        return len(rows)

    relay = ob.OutboxRelay(relay_engine, amqp, service, poll_seconds=3600)
    publisher = ConfirmingPublisher(amqp)
    db_old, db_new = Db(engine), Db(engine, relay)

    def commit(db) -> None:
        with db.transaction() as session:
            for _ in range(per_commit):
                probe.create_item(session, "подія")

    def one_round() -> None:
        if variant == "before":
            commit(db_old)
            while old_relay_pass(publisher):
                pass
        elif variant == "after":
            commit(db_new)
            relay._step(poll_due=False)  # noqa: SLF001
        else:
            for _ in range(10):
                commit(db_new)
            while relay.fresh:
                relay._step(poll_due=False)  # noqa: SLF001

    one_round()  # warm: connections, prepared statements, the channel
    rounds = max(1, events // per_commit // (10 if variant == "after-batched" else 1))
    pids = set(backends())
    me0 = time.process_time()
    pg0 = {p: cpu_seconds(p) or 0.0 for p in pids}
    st0, tx0 = statements[0], xacts()
    started = time.perf_counter()
    for _ in range(rounds):
        one_round()
    wall = time.perf_counter() - started
    me = time.process_time() - me0
    pg = sum((cpu_seconds(p) or pg0[p]) - pg0[p] for p in pids)
    time.sleep(1.5)  # backends report their transactions to the statistics at most once a second
    st, tx = statements[0] - st0, xacts() - tx0
    n = rounds * per_commit * (10 if variant == "after-batched" else 1)
    relay.stop()
    publisher.close()
    for e in (engine, relay_engine):
        e.dispose()
    with Connection(amqp) as conn:
        Queue(f"{run}.sink")(conn.default_channel).delete()
        exchange(conn.default_channel).delete()
    admin.execute(f'DROP DATABASE IF EXISTS "{run}_probe" WITH (FORCE)')
    return {"events": n, "client_ms": me * 1000 / n, "pg_ms": pg * 1000 / n, "statements": st / n,
            "transactions": tx / n, "wall_ms": wall * 1000 / n, "impl": psycopg.pq.__impl__}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=400)
    ap.add_argument("--per-commit", type=int, default=1)
    ap.add_argument("--impl", default="python,binary")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.events, args.per_commit)))
        return
    from bench.common import machine

    print(f"# bench/relay.py on {machine()}; {args.events} events, {args.per_commit} per commit")
    print(f"{'variant':<26} {'psycopg':<8} {'CPU ms/event':>12} {'of which PG':>11} "
          f"{'statements':>10} {'transactions':>12} {'wall ms':>8}")
    base = None
    for impl in args.impl.split(","):
        for variant in VARIANTS:
            env = {**os.environ, "PSYCOPG_IMPL": impl, "PYTHONPATH": str(ROOT)}
            out = subprocess.run([sys.executable, __file__, "--child", variant, "--events", str(args.events),
                                  "--per-commit", str(args.per_commit)], env=env, capture_output=True,
                                 text=True, cwd=ROOT)
            if out.returncode:
                sys.exit(out.stderr[-3000:])
            r = json.loads(out.stdout.strip().splitlines()[-1])
            total = r["client_ms"] + r["pg_ms"]
            base = base or total
            print(f"{variant:<26} {r['impl']:<8} {total:>12.2f} {r['pg_ms']:>11.2f} {r['statements']:>10.2f} "
                  f"{r['transactions']:>12.2f} {r['wall_ms']:>8.2f}   ratio to the first row {total / base:.2f}")


if __name__ == "__main__":
    main()
