"""Webhooks under load (docs/webhooks.md): N public events to 5 subscriptions — three healthy, one
slow (answers after --slow seconds), one failing (always 500) — from the publish (the event's commit;
its CloudEvents ``time``) to the receiver's 2xx. Prints deliveries/s, the healthy subscriptions' p95
delay from commit, and, beside them in the same run: a plain loop POSTing the same bodies to the
same receiver (the receiver's ceiling) and the three healthy subscriptions alone (what the slow
and failing ones cost them).

    python bench/webhooks.py [--events 10000] [--slow 0.5] [--concurrency 32]

Starts an isolated registry and notifications (own vhost and databases), a receiver process on
loopback, and removes everything afterwards.
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
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import machine  # noqa: E402

HEALTHY = ("/h1", "/h2", "/h3")


def run_receiver(port: int, slow: float) -> None:
    """Answers 200 (after ``slow`` s on /slow; 500 on /failing); records (path, id, received, time)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    records, lock = [], threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status = 500 if self.path == "/failing" else 200
            if self.path == "/slow":
                time.sleep(slow)
            if status == 200 and self.path != "/plain":
                event = json.loads(body)
                with lock:
                    records.append((self.path, self.headers["webhook-id"], time.time(), event["time"]))
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    class Server(ThreadingHTTPServer):
        request_queue_size = 1024  # the default backlog of 5 resets a burst of connections
        daemon_threads = True

    server = Server(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    with lock:
        print(json.dumps(records), flush=True)


def plain_loop(url: str, bodies: list[bytes], concurrency: int) -> float:
    """Deliveries/s of a plain client: the same bodies, the same concurrency, a fresh connection each
    (as the service makes), no database."""
    import requests

    def one(body: bytes) -> None:
        requests.post(url, data=body, headers={"Content-Type": "application/cloudevents+json",
                                               "webhook-id": "x"}, timeout=10)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, bodies))
    return len(bodies) / (time.perf_counter() - started)


def p95(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))] if xs else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=10_000)
    ap.add_argument("--slow", type=float, default=0.5, help="seconds the slow receiver takes")
    ap.add_argument("--concurrency", type=int, default=64, help="WEBHOOK_CONCURRENCY")
    ap.add_argument("--receiver", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.receiver:
        return run_receiver(int(args.receiver[0]), float(args.receiver[1]))

    import psycopg
    from nameko.standalone.rpc import ClusterRpcProxy

    import chassis.errors  # noqa: F401
    from chassis.bus import ConfirmingPublisher, event_exchange
    from chassis.events import make_envelope
    from contracts.consultations import DecisionPublished
    from tests.support.cluster import Cluster
    from tests.support.infra import discover
    from tests.support.world import destroy_world, free_port, make_world, migrate

    infra = discover()
    port = free_port()
    world = make_world(infra, LOG_LEVEL="WARNING", WEBHOOK_ALLOW_LOOPBACK=1, WEBHOOK_CONCURRENCY=args.concurrency,
                       WEBHOOK_RETRY_BASE_SECONDS=1, WEBHOOK_RETRY_CAP_SECONDS=10, WEBHOOK_POLL_SECONDS=0.2,
                       MAX_WORKERS=32, DB_POOL_SIZE=20)
    cluster, receiver = None, None
    base = f"http://127.0.0.1:{port}"
    try:
        migrate(world)
        receiver = subprocess.Popen([sys.executable, __file__, "--receiver", str(port), str(args.slow)],
                                    stdout=subprocess.PIPE, text=True)
        assert receiver.stdout.readline().strip() == "ready"
        sample = json.dumps({"specversion": "1.0", "id": str(uuid.uuid4()), "data": {"title": "Рішення"}}).encode()
        ceiling = plain_loop(base + "/plain", [sample] * 2000, args.concurrency)
        cluster = Cluster(world.vars, Path("var/bench-logs") / world.run_id, world.base_url)
        cluster.start("registry")
        cluster.start("notifications")
        db = psycopg.connect(f"{world.database_url}/{world.db_prefix}notifications", autocommit=True)
        with ClusterRpcProxy({"AMQP_URI": world.amqp_uri}, timeout=30) as rpc:
            cluster.wait_rpc(rpc, "notifications", timeout=60)

            def subscribe(path: str) -> str:
                return rpc.notifications.webhook_create(str(uuid.uuid4()), {
                    "url": base + path, "event_types": ["decision_published"], "owner_contact": "b@bench.example"})["id"]

            def publish(n: int) -> float:
                publisher = ConfirmingPublisher(world.amqp_uri)
                started = time.perf_counter()
                for i in range(n):
                    cid = uuid.uuid4()
                    data = DecisionPublished(consultation_id=cid, number=f"№ {i}", adopted_on=date(2026, 11, 30),
                                             title="Рішення", url=f"https://rada.example/{cid}", on_time=True)
                    publisher.publish(make_envelope(data).model_dump(mode="json"),
                                      exchange=event_exchange("consultations"), routing_key="decision_published")
                publisher.close()
                return time.perf_counter() - started

            def delivered(ids: list[str]) -> int:
                return db.execute("SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered' "
                                  "AND subscription_id = ANY(%s::uuid[])", (ids,)).fetchone()[0]

            def run(label: str, subs: dict[str, str], n: int) -> tuple[float, float]:
                healthy = [subs[p] for p in HEALTHY]
                started = time.perf_counter()
                publish(n)
                while delivered(healthy) < n * len(healthy):
                    time.sleep(0.5)
                    if time.perf_counter() - started > 3600:
                        raise TimeoutError(label)
                took = time.perf_counter() - started
                return took, n * len(healthy) / took

            # 1. the three healthy subscriptions alone
            n_alone = max(100, args.events // 5)
            alone = {p: subscribe(p) for p in HEALTHY}
            alone_took, alone_rate = run("healthy alone", alone, n_alone)
            for sub in alone.values():
                rpc.notifications.webhook_disable(sub)
            mark = time.time()
            # 2. all five
            subs = {p: subscribe(p) for p in (*HEALTHY, "/slow", "/failing")}
            took, rate = run("all five", subs, args.events)
            others = {p: delivered([subs[p]]) for p in ("/slow", "/failing")}
            failing_attempts = db.execute("SELECT count(*) FROM webhook_attempts WHERE subscription_id = %s",
                                          (subs["/failing"],)).fetchone()[0]
        receiver.send_signal(signal.SIGTERM)
        records = json.loads(receiver.stdout.readline())
        receiver.wait(10)
        receiver = None
        delays = {"alone": [], "five": []}
        for path, _, got, when in records:
            if path in HEALTHY:
                delay = got - datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp()
                delays["five" if got >= mark else "alone"].append(delay)
        print(f"# bench/webhooks.py on {machine()}")
        print(f"{args.events:,} events to 5 subscriptions (3 healthy, 1 slow {args.slow:g} s, 1 failing 500); "
              f"WEBHOOK_CONCURRENCY {args.concurrency}, one notifications instance")
        print(f"{'case':<58} {'deliveries':>10} {'seconds':>8} {'per s':>8} {'p95 delay':>10}")
        print(f"{'plain loop: POST to the same receiver (ceiling)':<58} {2000:>10} {2000 / ceiling:>8.1f} "
              f"{ceiling:>8.0f} {'-':>10}")
        print(f"{'3 healthy subscriptions alone':<58} {n_alone * 3:>10} {alone_took:>8.1f} {alone_rate:>8.0f} "
              f"{p95(delays['alone']):>9.2f}s")
        print(f"{'3 healthy beside the slow and the failing one':<58} {args.events * 3:>10} {took:>8.1f} "
              f"{rate:>8.0f} {p95(delays['five']):>9.2f}s")
        print(f"meanwhile the slow subscription got {others['/slow']:,} delivered; the failing one had "
              f"{failing_attempts:,} attempts (all 500)")
    finally:
        if receiver is not None:
            receiver.kill()
        if cluster:
            cluster.stop_all()
        destroy_world(infra, world)
        infra.stop()


if __name__ == "__main__":
    main()
