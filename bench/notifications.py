"""The start-day e-mail fan-out (R-1.10, R-3.4; issue 6): one consultation to 100,000 interested
persons, from the `consultation_published` event to `notification_batch_completed`, into a local SMTP
server (aiosmtpd in its own process, accepting and discarding); beside the SMTP server alone in the
same run (a plain smtplib client, as many connections as all senders together, each reused, sending
the same number of ready-made messages of the same size) as the ceiling.

    python bench/notifications.py [--persons 100000] [--instances 1] [--concurrency 2] [--batch 100]

Starts an isolated registry and notifications service (own vhost and databases), seeds the register
with straight SQL, and removes everything afterwards. SMTP_RATE_PER_SECOND is set out of the way.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import signal
import smtplib
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import machine  # noqa: E402

SEED_SQL = """
INSERT INTO persons (id, subject, full_name, birth_date, community_member, email, interests,
                     email_enabled, consent_version, consented_at)
SELECT gen_random_uuid(), 'bench-' || g, 'Мешканець ' || g, DATE '1980-01-01' + (g % 9000), true,
       'person' || g || '@example.org',
       CASE WHEN g % 4 = 0 THEN '{}'::smallint[] ELSE ARRAY[%(category)s, (g % 22) + 1]::smallint[] END,
       true, '2026-11', now()
FROM generate_series(1, %(n)s) AS g
"""


class Sink:
    """Accepts every message and throws it away, counting."""

    def __init__(self):
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += len(envelope.rcpt_tos)
        return "250 OK"


def run_sink(port: int) -> None:
    import logging

    from aiosmtpd.controller import Controller

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    controller.stop()
    print(sink.count, flush=True)


def ceiling(port: int, total: int, concurrency: int, message: bytes) -> float:
    """Seconds for a plain smtplib client to send ``total`` messages over ``concurrency`` reused
    connections."""
    shares = [total // concurrency + (i < total % concurrency) for i in range(concurrency)]

    def worker(n: int) -> None:
        smtp = smtplib.SMTP("127.0.0.1", port, timeout=30)
        for i in range(n):
            smtp.sendmail("noreply@localhost", [f"person{i}@example.org"], message)
        smtp.quit()

    threads = [threading.Thread(target=worker, args=(n,)) for n in shares]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--persons", type=int, default=100_000)
    ap.add_argument("--concurrency", type=int, default=2, help="SMTP_CONCURRENCY (connections per instance)")
    ap.add_argument("--batch", type=int, default=100, help="SMTP_BATCH (rows a sender claims at once)")
    ap.add_argument("--instances", type=int, default=1, help="notifications service instances")
    ap.add_argument("--category", type=int, default=3)
    ap.add_argument("--sink", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.sink:
        return run_sink(args.sink)

    import psycopg
    from nameko.standalone.rpc import ClusterRpcProxy

    import chassis.rpcerrors  # noqa: F401  (typed errors deserialise to their classes)
    from chassis.bus import ConfirmingPublisher, event_exchange
    from chassis.events import make_envelope
    from chassis.workdays import local_today
    from contracts.consultations import CATEGORIES, ConsultationPublished, Form
    from services.notifications import mailer
    from chassis.testing.cluster import Cluster
    from chassis.testing.infra import discover
    from chassis.testing.world import destroy_world, free_port, make_world, migrate

    infra = discover()
    smtp_port = free_port()
    world = make_world(infra, LOG_LEVEL="WARNING", SMTP_PORT=smtp_port, SMTP_RATE_PER_SECOND="1000000",
                       SMTP_CONCURRENCY=args.concurrency, SMTP_BATCH=args.batch, DELIVERY_STUCK_SECONDS="120")
    cluster, sink = None, None
    try:
        migrate(world)
        dsn = f"{world.database_url}/{world.db_prefix}registry"
        with psycopg.connect(dsn, autocommit=True) as conn:
            started = time.perf_counter()
            conn.execute(SEED_SQL.replace("%(n)s", str(int(args.persons))).replace("%(category)s", str(args.category)))
            conn.execute("ANALYZE persons")
            seeded = time.perf_counter() - started
            recipients = conn.execute("SELECT count(*) FROM persons").fetchone()[0]
        sink = subprocess.Popen([sys.executable, __file__, "--sink", str(smtp_port)], stdout=subprocess.PIPE, text=True)
        assert sink.stdout.readline().strip() == "ready"

        # the ceiling: the SMTP server alone, the same message size, same connections and reuse
        today = local_today()
        sample = mailer.compose("Електронні консультації <noreply@localhost>", "Мешканець 12345",
                                "person12345@example.org", "Розпочато консультацію: Тарифи на проїзд",
                                "consultation_published",
                                {"title": "Тарифи на проїзд", "category": CATEGORIES[args.category],
                                 "starts_on": today.strftime("%d.%m.%Y"), "ends_on": today.strftime("%d.%m.%Y"),
                                 "url": "http://localhost:8000/consultations/" + str(uuid.uuid4()),
                                 "question": "Чи підтримуєте ви зміну тарифу на проїзд у громадському транспорті?"},
                                mailer.message_id(1, str(uuid.uuid4())),
                                "http://localhost:8000/api/v1/unsubscribe?token=" + "x" * 90).as_bytes()
        alone = ceiling(smtp_port, recipients, args.concurrency * args.instances, sample)

        cluster = Cluster(world.vars, Path("var/bench-logs") / world.run_id, world.base_url)
        cluster.start("registry")
        for i in range(args.instances):
            cluster.start(f"notifications-{i}", cluster.commands["notifications"])
        with ClusterRpcProxy({"AMQP_URI": world.amqp_uri}, timeout=30) as rpc:
            for name in ("registry", "notifications"):
                cluster.wait_rpc(rpc, name, timeout=60)
            time.sleep(2)  # every instance consuming
            cid = uuid.uuid4()
            event = ConsultationPublished(consultation_id=cid, title="Тарифи на проїзд", category=args.category,
                                          question="Чи підтримуєте ви зміну тарифу на проїзд у громадському транспорті?",
                                          form=Form.proposal, starts_on=today, ends_on=today + timedelta(days=15),
                                          url=f"http://localhost:8000/consultations/{cid}")
            publisher = ConfirmingPublisher(world.amqp_uri)
            started = time.perf_counter()
            publisher.publish(make_envelope(event).model_dump(mode="json"), exchange=event_exchange("consultations"),
                              routing_key="consultation_published")
            publisher.close()
            selected_at, last = None, None
            while True:
                time.sleep(0.5)
                p = rpc.notifications.progress(str(cid))
                if p and p["status"] != "selecting" and selected_at is None:
                    selected_at = time.perf_counter() - started
                if p and p != last and os.environ.get("BENCH_VERBOSE"):
                    print(f"{time.perf_counter() - started:7.1f} s {p}", flush=True)
                last = p
                if p and p["status"] == "done":
                    break
            total_seconds = time.perf_counter() - started
        sink.send_signal(signal.SIGTERM)
        received = int(sink.stdout.read().strip() or 0)
        sink.wait(10)
        sink = None
        ceiling_received = recipients
        print(f"# bench/notifications.py on {machine()}")
        print(f"persons: {recipients:,} (seeded in {seeded:.1f} s), recipients of category {args.category}: "
              f"{last['recipients']:,}; {args.instances} notifications instance(s), SMTP_CONCURRENCY "
              f"{args.concurrency}, SMTP_BATCH {args.batch}")
        print(f"{'case':<52} {'e-mails':>8} {'seconds':>8} {'e-mails/s':>10}  ratio")
        print(f"{'SMTP server alone: smtplib, ready-made messages':<52} {recipients:>8} {alone:>8.1f} "
              f"{recipients / alone:>10.0f}      -")
        print(f"{'fan-out: event -> notification_batch_completed':<52} {last['sent']:>8} {total_seconds:>8.1f} "
              f"{last['sent'] / total_seconds:>10.0f}  {(last['sent'] / total_seconds) / (recipients / alone):5.3f}")
        print(f"recipients selected (all queued) after {selected_at:.1f} s; sent {last['sent']:,}, failed "
              f"{last['failed']}; the SMTP server counted {received - ceiling_received:,} fan-out e-mails")
    finally:
        if sink is not None:
            sink.kill()
        if cluster:
            cluster.stop_all()
        destroy_world(infra, world)
        infra.stop()


if __name__ == "__main__":
    main()
