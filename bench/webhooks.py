"""Webhooks under load (docs/webhooks.md): public events committed through the consultations
service's outbox at a stated rate, delivered to five subscriptions — three healthy, one slow
(answers after --slow seconds), one failing (always 500). The delay of a delivery is from the
event's commit (its CloudEvents ``time``, set in the committing transaction) to the receiver
getting it, so it includes the outbox relay, the broker, the feed and the sender.

The events are published the way a service publishes them: this process runs a second instance
of the consultations service's publishing side over the same database (the engines and the
``OutboxRelay`` chassis.db.Database builds) and commits each event with ``chassis.outbox.add_event``
inside ``Db.transaction()``, whose commit hands the new events to that relay at once; the
service's own relay polls the same outbox as the fallback, as a second instance would. The CPU of
this process (the commits, the relay, and its waiting for the deliveries) counts as the
publishing service's.
    python bench/webhooks.py [--events 10000] [--rate 20] [--slow 0.5]

The rate: the busiest moment for public events is a backlog released at once — the 2,000 comments
of the 3-million city's peak hour (docs/scaling.md) approved from the moderators' queue within two
minutes is ~17 comment_published events a second; 20/s is that peak rounded up (the 60,000 city's
peak hour has 40 comments). At 20/s the 10,000 events arrive over 500 s.

Two phases in one run, the same rate: the three healthy subscriptions alone (``--alone`` events),
then all five (``--events``); printed: deliveries/s, the healthy ones' p50/p95/p99 delay in each
phase (the difference is what the slow and the failing one cost them), the failing one's attempts,
and CPU ms per delivery per process. ``--rate 0`` offers every event at once (a backlog: the
throughput ceiling). Starts an isolated system (bench/common.isolated_system) and a receiver
process on loopback, and removes everything afterwards.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import isolated_system, machine  # noqa: E402
from cpu import CpuSampler, pids_named, postgres_backends  # noqa: E402

HEALTHY = ("/h1", "/h2", "/h3")


def run_receiver(port: int, slow: float) -> None:
    """Answers 200 (after ``slow`` s on /slow; 500 on /failing), HTTP/1.1 keep-alive; records
    (path, webhook-id, received, event time) of every 2xx."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    records, lock = [], threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            got = time.time()
            status = 500 if self.path == "/failing" else 200
            if self.path == "/slow":
                time.sleep(slow)
            if status == 200:
                event = json.loads(body)
                with lock:
                    records.append((self.path, self.headers["webhook-id"], got, event["time"]))
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    class Server(ThreadingHTTPServer):
        request_queue_size = 1024
        daemon_threads = True

    server = Server(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    with lock:
        print(json.dumps(records), flush=True)


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")


def commit_events(db, n: int, rate: float) -> float:
    """Commit ``n`` comment_published events at ``rate`` per second (0: as fast as possible), one
    transaction each, the way a service does: :func:`chassis.outbox.add_event` inside
    ``db.transaction()`` (chassis.db.Db), whose commit hands the new events to the relay; returns the
    seconds it took."""
    from chassis.outbox import add_event
    from contracts.consultations import CommentPublished

    consultation = uuid.uuid4()
    started = time.perf_counter()
    for i in range(n):
        if rate:
            ahead = started + i / rate - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)
        with db.transaction() as session:
            add_event(session, CommentPublished(comment_id=uuid.uuid4(), consultation_id=consultation,
                                                author_id=uuid.uuid4()))
    return time.perf_counter() - started


@contextmanager
def publisher(world):
    """A second instance of the consultations service's publishing side, in this process: its
    engine, its outbox relay (chassis.db.make_engine / chassis.outbox.OutboxRelay, as
    chassis.db.Database builds them) running, and the ``Db`` a worker gets."""
    from chassis.db import Db, make_engine
    from chassis.outbox import OutboxRelay
    from chassis.settings import Settings

    settings = Settings(database_url=world.database_url, db_prefix=world.db_prefix, amqp_uri=world.amqp_uri)
    engine = make_engine("consultations", settings)
    relay_engine = make_engine("consultations", settings, relay=True)
    relay = OutboxRelay(relay_engine, world.amqp_uri, "consultations", settings.outbox_poll_seconds)
    thread = threading.Thread(target=relay.run, daemon=True)
    thread.start()
    try:
        yield Db(engine, relay)
    finally:
        relay.stop()
        thread.join(10)
        engine.dispose()
        relay_engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=10_000)
    ap.add_argument("--alone", type=int, default=1_000, help="events of the healthy-only phase")
    ap.add_argument("--rate", type=float, default=20.0, help="events committed per second (0: all at once)")
    ap.add_argument("--slow", type=float, default=0.5, help="seconds the slow receiver takes")
    ap.add_argument("--receiver", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.receiver:
        return run_receiver(int(args.receiver[0]), float(args.receiver[1]))

    import psycopg
    from nameko.standalone.rpc import ClusterRpcProxy

    import chassis.rpcerrors  # noqa: F401  (typed errors deserialise to their classes)
    from chassis.settings import get_settings
    from chassis.testing.world import free_port

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = {"WEBHOOK_ALLOW_LOOPBACK": 1, "WEBHOOK_RETRY_BASE_SECONDS": 1, "WEBHOOK_RETRY_CAP_SECONDS": 10}
    receiver = subprocess.Popen([sys.executable, __file__, "--receiver", str(port), str(args.slow)],
                                stdout=subprocess.PIPE, text=True)
    try:
        assert receiver.stdout.readline().strip() == "ready"
        with isolated_system(**settings) as (world, cluster), publisher(world) as outbox_db, \
                ClusterRpcProxy({"AMQP_URI": world.amqp_uri}, timeout=30) as rpc:
            db = psycopg.connect(f"{world.database_url}/{world.db_prefix}notifications", autocommit=True)
            backends = postgres_backends(world.database_url, world.db_prefix, lambda: {db.info.backend_pid})

            sampler = CpuSampler({
                "notifications (feed + senders)": lambda: [cluster.procs["notifications"].pid],
                # the publishing service: its process (its poller) and this one (commits, relay)
                "consultations + this client (publish)": lambda: [cluster.procs["consultations"].pid,
                                                                 os.getpid()],
                "PostgreSQL backends": backends,
                "RabbitMQ node (shared)": lambda: pids_named("beam.smp"),
                "receiver": lambda: [receiver.pid]}).start()

            def subscribe(path: str) -> str:
                return rpc.notifications.webhook_create(str(uuid.uuid4()), {
                    "url": base + path, "event_types": ["comment_published"], "owner_contact": "b@bench.example"})["id"]

            def count(sql: str, ids: list[str]) -> int:
                return db.execute(sql, (ids,)).fetchone()[0]

            def delivered(ids: list[str]) -> int:
                return count("SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered' "
                             "AND subscription_id = ANY(%s::uuid[])", ids)

            def phase(subs: dict[str, str], n: int) -> dict:
                healthy = [subs[p] for p in HEALTHY]
                sampler.mark()
                started = time.perf_counter()
                offered = commit_events(outbox_db, n, args.rate)
                while delivered(healthy) < n * len(healthy):
                    time.sleep(0.2)
                    if time.perf_counter() - started > 3600:
                        raise TimeoutError("the healthy subscriptions did not get every event")
                took = time.perf_counter() - started
                ids = list(subs.values())
                split = db.execute(
                    "SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM e.received_at - e.occurred_at)),"
                    " percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM d.delivered_at - e.received_at)),"
                    " percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM d.claimed_at - e.received_at))"
                    " FROM webhook_deliveries d JOIN public_events e ON e.id = d.feed_id"
                    " WHERE d.subscription_id = ANY(%s::uuid[])", (healthy,)).fetchone()
                return {"took": took, "split": split, "offered": offered, "cpu": sampler.delta(),
                        "delivered": delivered(ids),
                        "attempts": count("SELECT count(*) FROM webhook_attempts WHERE subscription_id = "
                                          "ANY(%s::uuid[])", ids)}

            alone = {p: subscribe(p) for p in HEALTHY}
            first = phase(alone, args.alone)
            for sub in alone.values():
                rpc.notifications.webhook_disable(sub)
            mark = time.time()
            subs = {p: subscribe(p) for p in (*HEALTHY, "/slow", "/failing")}
            second = phase(subs, args.events)
            slow_got = delivered([subs["/slow"]])
            failing_attempts = count("SELECT count(*) FROM webhook_attempts WHERE subscription_id = "
                                     "ANY(%s::uuid[])", [subs["/failing"]])
            sampler.stop()
        receiver.send_signal(signal.SIGTERM)
        records = json.loads(receiver.stdout.readline())
        receiver.wait(10)
    finally:
        if receiver.poll() is None:
            receiver.kill()
    delays: dict[str, list[float]] = {"alone": [], "five": []}
    for path, _, got, when in records:
        if path in HEALTHY:
            delay = got - datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp()
            delays["five" if got >= mark else "alone"].append(delay)
    rate = f"{args.rate:g} events/s" if args.rate else "all at once"
    print(f"# bench/webhooks.py on {machine()}")
    print(f"comment_published events committed through the consultations outbox (add_event, relay handed them at commit) at {rate}, one notifications "
          f"instance (WEBHOOK_CONCURRENCY {get_settings().webhook_concurrency}), "
          f"receivers on loopback; slow = {args.slow:g} s, failing = always 500")
    print(f"{'case':<44} {'events':>7} {'delivered':>9} {'per s':>7} {'p50 s':>6} {'p95 s':>6} {'p99 s':>6}")
    for label, key, n, f in (("3 healthy subscriptions alone", "alone", args.alone, first),
                             ("3 healthy beside the slow and failing one", "five", args.events, second)):
        d = delays[key]
        print(f"{label:<44} {n:>7} {f['delivered']:>9} {f['delivered'] / f['took']:>7.1f} {pct(d, 50):>6.2f} "
              f"{pct(d, 95):>6.2f} {pct(d, 99):>6.2f}")
    for label, f in (("alone", first), ("beside", second)):
        print(f"healthy {label}: p95 commit -> in the feed {f['split'][0]:.2f} s, in the feed -> delivered "
              f"{f['split'][1]:.2f} s (of which to the last claim {f['split'][2]:.2f} s)")
    print(f"events committed in {first['offered']:.1f} s and {second['offered']:.1f} s; the slow subscription got "
          f"{slow_got:,} delivered meanwhile, the failing one had {failing_attempts:,} attempts (all 500)")
    print(f"healthy p95 beside the slow and failing ones / alone: "
          f"{pct(delays['five'], 95) / pct(delays['alone'], 95):.2f}")
    print(f"\nCPU ms per delivered delivery (all five phase: {second['delivered']:,} delivered, "
          f"{second['attempts']:,} attempts), per process group:")
    for group, (seconds, procs) in second["cpu"].items():
        print(f"  {group:<34} {seconds * 1000 / max(1, second['delivered']):7.2f} ms  ({procs} processes, "
              f"{seconds:.1f} s)")


if __name__ == "__main__":
    main()
