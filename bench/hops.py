"""What one hop on the bus costs, with no domain work: the floor under a comment's CPU.

    python bench/hops.py [--calls 1000] [--events 1000] [--rounds 2]

A comment crosses the bus as one RPC (gateway → consultations), its facts as published events,
and one delivery per handler that records them (moderation, reports, the partners' feed). This
benchmark measures each kind of hop alone, in two services of its own that do nothing else, on a
vhost and database of its own, each in its own process under eventlet (as ``chassis.run`` runs a
service):

* ``hopsbare``: nameko alone. An ``@rpc`` that returns at once; an ``@event_handler`` that counts.
* ``hopsbench``: the chassis (``BaseService``: request context, readiness gate, database
  dependency, the publisher reuse and RPC reply patches of ``chassis.run``). The same ``@rpc``; a
  ``@subscribe`` handler that validates the envelope and counts; a ``@subscribe`` +
  ``@once_per_event(batch=True)`` handler that claims the event in a transaction (what every
  recording handler does before its own statements); ``health`` (one transaction, two tiny statements).

RPCs are called one after another from this process (nameko's ``ClusterRpcProxy``, as the gateway
calls); events are published by this process with publisher confirms, ``--events`` in batches of 50
(the consumer takes them back to back), then ``--paced-events`` one at a time at ``--paced`` a
second (each delivery alone, as a comment's are at 20 comments a second), and counted handled
through an RPC at the end. Printed per hop: hops per second, and the CPU
milliseconds per hop of the serving process, the RabbitMQ node (shared with anything else on the
machine), this client (publisher or caller), and PostgreSQL's backends of the run's database. The
figure to trust on a busy machine is CPU per hop.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

SOURCE = "hopsource"
# a comment's deliveries today: moderation's record, reports' two (submitted, published), the
# partners' feed's two (comment_published in both its versions)
COMMENT_DELIVERIES = 5
COMMENT_PUBLISHES = 4  # comment_submitted and comment_published, each in versions 1 and 2, in one batch


def serve(kind: str) -> None:
    """The child: run one of the two services until killed."""
    os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_selector")
    import eventlet

    eventlet.monkey_patch()
    from nameko.events import event_handler
    from nameko.rpc import rpc

    from chassis import lifecycle
    from chassis.bus import reuse_publisher_connections
    from chassis.consumer import once_per_event, subscribe
    from chassis.events import EventData, event, open_envelope
    from chassis.log import configure_logging
    from chassis.rpcreply import install as keep_serving_when_a_reply_fails
    from chassis.service import BaseService
    from chassis.settings import get_settings
    from chassis.store import SqlStore, UnitOfWork

    @event(SOURCE, "hop")
    class Hop(EventData):
        n: int

    counts = {"n": 0}

    class Counted:
        """The two RPCs both services answer alike: one that does nothing, and the events handled."""

        @rpc
        def noop(self):
            return 1

        @rpc
        def handled(self):
            return counts["n"]

    class BareHops(Counted):
        name = "hopsbare"

        @event_handler(SOURCE, "bare")
        def on_bare(self, payload):
            counts["n"] += 1

    class ChassisHops(BaseService, Counted):
        name = "hopsbench"

        @property
        def uow(self):
            return UnitOfWork(self.db, SqlStore)

        @subscribe(SOURCE, "plain")
        def on_plain(self, payload):
            open_envelope(payload, Hop)
            counts["n"] += 1

        @subscribe(SOURCE, "claimed")
        @once_per_event(Hop, batch=True)
        def on_claimed(self, store, data):
            counts["n"] += 1

    settings = get_settings()
    configure_logging(kind, "WARNING")
    keep_serving_when_a_reply_fails()
    reuse_publisher_connections()
    cls = BareHops if kind == "bare" else ChassisHops
    lifecycle.serve(cls, settings.nameko_config(), settings.shutdown_grace_seconds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--events", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--paced", type=float, default=20, help="events a second of the paced rows")
    ap.add_argument("--paced-events", type=int, default=200)
    ap.add_argument("--serve", choices=("bare", "chassis"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve)
        return

    from kombu import Connection
    from nameko.standalone.rpc import ClusterRpcProxy

    from chassis.bus import ConfirmingPublisher, event_exchange
    from chassis.db import ensure_database, make_engine
    from chassis.outbox import chassis_metadata
    from chassis.settings import Settings
    from chassis.testing.infra import discover, new_run_id
    from common import machine, stop_process
    from cpu import CpuSampler, pids_named, postgres_backends

    infra = discover()
    run = f"hops{new_run_id()}"
    amqp = infra.add_vhost(run)
    env = {**os.environ, "AMQP_URI": amqp, "DB_PREFIX": f"{run}_", "LOG_LEVEL": "WARNING",
           "PYTHONPATH": str(ROOT)}
    settings = Settings(amqp_uri=amqp, db_prefix=f"{run}_")
    ensure_database("hopsbench", settings)
    engine = make_engine("hopsbench", settings)
    chassis_metadata.create_all(engine)
    engine.dispose()
    procs = {kind: subprocess.Popen([sys.executable, __file__, "--serve", kind], env=env, cwd=ROOT)
             for kind in ("bare", "chassis")}
    try:
        groups = {"bare": lambda: [procs["bare"].pid], "chassis": lambda: [procs["chassis"].pid],
                  "PostgreSQL": postgres_backends(infra.database_url.rstrip("/"), f"{run}_"),
                  "RabbitMQ": lambda: pids_named("beam.smp"), "client": lambda: [os.getpid()]}
        sampler = CpuSampler(groups).start()
        publisher = ConfirmingPublisher(amqp)
        exchange = event_exchange(SOURCE)
        with Connection(amqp) as conn:
            exchange(conn.default_channel).declare()

        def publish(event_type: str, n: int, rate: float | None = None) -> None:
            """``n`` events in batches of 50, or with ``rate`` one at a time at that rate."""
            batch, started = [], time.monotonic()
            for i in range(n):
                if rate:
                    time.sleep(max(0.0, started + i / rate - time.monotonic()))
                body = {"event_id": str(uuid.uuid4()), "type": "hop", "version": 1, "occurred_at":
                        "2026-12-01T10:00:00+00:00", "data": {"n": i}}
                batch.append(dict(body=body, exchange=exchange, routing_key=event_type,
                                  message_id=body["event_id"]))
                if len(batch) == (1 if rate else 50):
                    publisher.publish_many(batch)
                    batch = []
            publisher.publish_many(batch)

        print(f"# bench/hops.py on {machine()}; {args.calls} sequential RPCs and {args.events} events "
              f"per row, {args.rounds} rounds")
        print("| hop | round | per s | serving process CPU ms | RabbitMQ ms | client ms | PostgreSQL ms |")
        print("|---|---|---|---|---|---|---|")
        with ClusterRpcProxy({"AMQP_URI": amqp}, timeout=30) as rpc:
            deadline = time.monotonic() + 90
            while True:  # both services up and consuming
                try:
                    rpc.hopsbare.noop(), rpc.hopsbench.noop()
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.5)
            rpcs = {"RPC, nameko alone": ("bare", rpc.hopsbare.noop),
                    "RPC, chassis service": ("chassis", rpc.hopsbench.noop),
                    "RPC, chassis health (one transaction, two tiny statements)": ("chassis", rpc.hopsbench.health)}
            events = {"event, nameko @event_handler": ("bare", "bare", rpc.hopsbare.handled),
                      "event, chassis @subscribe (envelope validated)": ("chassis", "plain", rpc.hopsbench.handled),
                      "event, chassis @subscribe + once_per_event(batch) claim": ("chassis", "claimed",
                                                                                  rpc.hopsbench.handled)}
            paced = {f"event, nameko @event_handler, one at a time at {args.paced:g}/s": events[
                         "event, nameko @event_handler"],
                     f"event, chassis @subscribe + claim, one at a time at {args.paced:g}/s": events[
                         "event, chassis @subscribe + once_per_event(batch) claim"]}
            for _, call in rpcs.values():
                for _ in range(100):
                    call()
            for _, event_type, _ in events.values():
                publish(event_type, 100)
            time.sleep(3)

            parts: dict[str, dict[str, float]] = {}

            def row(label, r, serving, n, elapsed):
                cpu = {k: s * 1000 / n for k, (s, _) in sampler.delta().items()}
                parts[label] = {"serving": cpu[serving], "RabbitMQ": cpu["RabbitMQ"], "client": cpu["client"],
                                "PostgreSQL": cpu["PostgreSQL"]}
                print(f"| {label} | {r} | {n / elapsed:.0f} | {cpu[serving]:.2f} | {cpu['RabbitMQ']:.2f} | "
                      f"{cpu['client']:.2f} | {cpu['PostgreSQL']:.2f} |", flush=True)

            for r in range(1, args.rounds + 1):
                for label, (serving, call) in rpcs.items():
                    sampler.mark()
                    started = time.perf_counter()
                    for _ in range(args.calls):
                        call()
                    row(label, r, serving, args.calls, time.perf_counter() - started)
                for label, (serving, event_type, handled) in events.items():
                    before = handled()
                    sampler.mark()
                    started = time.perf_counter()
                    publish(event_type, args.events)
                    while handled() < before + args.events:
                        time.sleep(0.02)
                    row(label, r, serving, args.events, time.perf_counter() - started)
                for label, (serving, event_type, handled) in paced.items():
                    before = handled()
                    sampler.mark()
                    started = time.perf_counter()
                    publish(event_type, args.paced_events, args.paced)
                    while handled() < before + args.paced_events:
                        time.sleep(0.02)
                    row(label, r, serving, args.paced_events, time.perf_counter() - started)
        rpc_ms = sum(parts["RPC, chassis service"].values())
        publish_ms = parts["event, chassis @subscribe + once_per_event(batch) claim"]["client"]
        for how, label in (("back to back", "event, chassis @subscribe + once_per_event(batch) claim"),
                           (f"one at a time at {args.paced:g}/s", list(paced)[1])):
            delivery_ms = sum(v for k, v in parts[label].items() if k != "client")
            floor = rpc_ms + COMMENT_PUBLISHES * publish_ms + COMMENT_DELIVERIES * delivery_ms
            print(f"\nA comment's hops alone, its deliveries {how} (last round, every process): one RPC "
                  f"{rpc_ms:.2f} ms + {COMMENT_PUBLISHES} publishes x {publish_ms:.2f} ms + {COMMENT_DELIVERIES} "
                  f"recorded deliveries x {delivery_ms:.2f} ms = {floor:.1f} ms; {rpc_ms:.2f} ms more when the "
                  f"gateway worker has not seen the session (the registry's RPC). No SQL of the comment's own, "
                  f"no HTTP, no screening, no grouping.")
        publisher.close()
        sampler.stop()
    finally:
        for p in procs.values():
            stop_process(p)
        infra.delete_vhost(run)
        infra.drop_databases(f"{run}_")
        infra.stop()


if __name__ == "__main__":
    main()
