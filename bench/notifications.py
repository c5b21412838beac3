"""The start-day e-mail fan-out (R-1.10, R-3.4): one consultation to 100,000 interested
persons, from the `consultation_published` event to `notification_batch_completed`, into a local SMTP
server (aiosmtpd in its own process, accepting and discarding); beside the SMTP server alone in the
same run (a plain smtplib client, as many connections as all senders together, each reused, sending
the same number of ready-made messages rendered from the service's templates with the standard
library, their size printed beside the fan-out's) as the ceiling.

    python bench/notifications.py [--persons 100000] [--instances 1] [--concurrency 2] [--batch 100]

Starts an isolated system (bench/common.isolated_system(): own vhost and databases; the mail catcher
is replaced by the counting sink on its port, and ``--instances`` notifications processes run),
seeds the register with straight SQL, and removes everything afterwards. SMTP_RATE_PER_SECOND is set
out of the way. Prints CPU milliseconds per e-mail of every process (each notifications instance,
the registry, the SMTP sink, the PostgreSQL backends of this run, the RabbitMQ node — shared with
anything else on the machine) for the fan-out and, for the ceiling, of the sink and the client.
"""
from __future__ import annotations

import argparse
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import isolated_system, machine  # noqa: E402
from cpu import CpuSampler, children, pids_named  # noqa: E402

SEED_SQL = """
INSERT INTO persons (id, subject, full_name, birth_date, community_member, email, interests,
                     email_enabled, consent_version, consented_at)
SELECT gen_random_uuid(), 'bench-' || g, 'Мешканець ' || g, DATE '1980-01-01' + (g % 9000), true,
       'person' || g || '@example.org',
       CASE WHEN g % 4 = 0 THEN '{}'::smallint[] ELSE ARRAY[%(category)s, (g % 22) + 1]::smallint[] END,
       true, '2026-11', now()
FROM generate_series(1, %(n)s) AS g
"""


CEILING_FROM = "ceiling@localhost"  # the envelope sender of the ceiling's messages: the sink tells them apart


class Sink:
    """Accepts every message and throws it away, counting messages and bytes of the ceiling's and of
    the fan-out's apart."""

    def __init__(self):
        self.count = {True: 0, False: 0}
        self.bytes = {True: 0, False: 0}

    async def handle_DATA(self, server, session, envelope):
        ceiling = envelope.mail_from == CEILING_FROM
        self.count[ceiling] += len(envelope.rcpt_tos)
        self.bytes[ceiling] += len(envelope.original_content or envelope.content)
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
    print(sink.count[True], sink.bytes[True], sink.count[False], sink.bytes[False], flush=True)


def ceiling(port: int, total: int, concurrency: int, message: bytes) -> float:
    """Seconds for a plain smtplib client to send ``total`` messages over ``concurrency`` reused
    connections."""
    shares = [total // concurrency + (i < total % concurrency) for i in range(concurrency)]

    def worker(n: int) -> None:
        smtp = smtplib.SMTP("127.0.0.1", port, timeout=30)
        for i in range(n):
            smtp.sendmail(CEILING_FROM, [f"person{i}@example.org"], message)
        smtp.quit()

    threads = [threading.Thread(target=worker, args=(n,)) for n in shares]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started


def ready_made(today, category: str) -> bytes:
    """One start-day e-mail built with the standard library alone: the notifications service's own
    templates (read as files, rendered with Jinja), text and HTML alternatives, SMTP policy; the
    sink reports its size beside the fan-out's messages."""
    from email import policy
    from email.message import EmailMessage
    from email.utils import formataddr

    from jinja2 import Environment, FileSystemLoader, select_autoescape

    templates = Environment(loader=FileSystemLoader(ROOT / "services" / "notifications" / "templates"),
                            autoescape=select_autoescape(["html.j2"]), keep_trailing_newline=True)
    unsubscribe = "http://localhost:8000/api/v1/unsubscribe?token=" + "x" * 90
    context = {"title": "Тарифи на проїзд", "category": category, "starts_on": today.strftime("%d.%m.%Y"),
               "ends_on": today.strftime("%d.%m.%Y"), "url": f"http://localhost:8000/consultations/{uuid.uuid4()}",
               "question": "Чи підтримуєте ви зміну тарифу на проїзд у громадському транспорті?",
               "full_name": "Мешканець 12345", "unsubscribe_url": unsubscribe}
    msg = EmailMessage(policy=policy.SMTP.clone(max_line_length=998))
    msg["From"] = "Електронні консультації <noreply@localhost>"
    msg["To"] = formataddr(("Мешканець 12345", "person12345@example.org"))
    msg["Subject"] = "Розпочато консультацію: Тарифи на проїзд"
    msg["Message-ID"] = f"<delivery-1.{uuid.uuid4()}@econsult>"
    msg["List-Unsubscribe"] = f"<{unsubscribe}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(templates.get_template("consultation_published.txt.j2").render(context))
    msg.add_alternative(templates.get_template("consultation_published.html.j2").render(context), subtype="html")
    return msg.as_bytes()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=100_000)
    ap.add_argument("--concurrency", type=int, default=2, help="SMTP_CONCURRENCY (connections per instance)")
    ap.add_argument("--batch", type=int, default=100, help="SMTP_BATCH (rows a sender claims at once)")
    ap.add_argument("--instances", type=int, default=1, help="notifications service instances")
    ap.add_argument("--category", type=int, default=3)
    ap.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                    help="extra setting for the system under test; repeatable")
    ap.add_argument("--sink", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.sink:
        return run_sink(args.sink)

    extra = dict(kv.split("=", 1) for kv in args.env)
    settings = {"SMTP_RATE_PER_SECOND": "1000000", "SMTP_CONCURRENCY": str(args.concurrency),
                "SMTP_BATCH": str(args.batch), "DELIVERY_STUCK_SECONDS": "120", **extra}
    with isolated_system(**settings) as (world, cluster):
        smtp_port = int(world.vars["SMTP_PORT"])
        cluster.stop("mail")  # the catcher writes files; the counting sink takes its port
        sink = subprocess.Popen([sys.executable, __file__, "--sink", str(smtp_port)], stdout=subprocess.PIPE,
                                text=True)
        try:
            assert sink.stdout.readline().strip() == "ready"
            run(args, world, cluster, sink)
        finally:
            if sink.poll() is None:
                sink.kill()


def run(args, world, cluster, sink: subprocess.Popen) -> None:
    import psycopg
    from nameko.standalone.rpc import ClusterRpcProxy

    import chassis.rpcerrors  # noqa: F401  (typed errors deserialise to their classes)
    from chassis.bus import ConfirmingPublisher, event_exchange
    from chassis.events import make_envelope
    from chassis.workdays import local_today
    from contracts.consultations import CATEGORIES, ConsultationPublished, Form

    today = local_today()
    dsn = f"{world.database_url}/{world.db_prefix}registry"
    with psycopg.connect(dsn, autocommit=True) as conn:
        started = time.perf_counter()
        conn.execute(SEED_SQL.replace("%(n)s", str(int(args.persons))).replace("%(category)s", str(args.category)))
        conn.execute("ANALYZE persons")
        seeded = time.perf_counter() - started
        recipients = conn.execute("SELECT count(*) FROM persons").fetchone()[0]
    for i in range(1, args.instances):
        cluster.start(f"notifications-{i}", cluster.commands["notifications"])
    instances = ["notifications"] + [f"notifications-{i}" for i in range(1, args.instances)]

    db_admin = psycopg.connect(f"{world.database_url}/postgres", autocommit=True)
    admin_lock = threading.Lock()

    def backends() -> list[int]:
        with admin_lock:
            rows = db_admin.execute("SELECT pid FROM pg_stat_activity WHERE datname LIKE %s AND pid <> "
                                    "pg_backend_pid()", (world.db_prefix + "%",)).fetchall()
        return [r[0] for r in rows]

    groups = {**{name: (lambda name=name: [cluster.procs[name].pid]) for name in instances},
              "registry": lambda: [cluster.procs["registry"].pid],
              "SMTP sink": lambda: [sink.pid],
              "PostgreSQL backends": backends,
              "RabbitMQ node (shared)": lambda: pids_named("beam.smp"),
              "other services, gateway": lambda: [p.pid for n, p in cluster.procs.items()
                                                  if n in ("consultations", "moderation", "reports")]
              + children(cluster.procs["gateway"].pid) + [cluster.procs["gateway"].pid],
              "this client": lambda: [os.getpid()]}
    sampler = CpuSampler(groups).start()

    # the ceiling: the SMTP server alone, the same message size, same connections and reuse
    sample = ready_made(today, CATEGORIES[args.category])
    sampler.mark()
    alone = ceiling(int(world.vars["SMTP_PORT"]), recipients, args.concurrency * args.instances, sample)
    cpu_alone = sampler.delta()

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
        sampler.mark()
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
        cpu_fanout = sampler.delta()
    sampler.stop()
    db_admin.close()
    sink.send_signal(signal.SIGTERM)
    ceiling_count, ceiling_bytes, received, received_bytes = map(int, sink.stdout.read().split() or (0,) * 4)
    sink.wait(10)

    sent = last["sent"]
    print(f"# bench/notifications.py on {machine()}")
    print(f"persons: {recipients:,} (seeded in {seeded:.1f} s), recipients of category {args.category}: "
          f"{last['recipients']:,}; {args.instances} notifications instance(s), SMTP_CONCURRENCY "
          f"{args.concurrency}, SMTP_BATCH {args.batch}; extra settings: {args.env or 'none'}")
    print(f"{'case':<52} {'e-mails':>8} {'seconds':>8} {'e-mails/s':>10}  ratio")
    print(f"{'SMTP server alone: smtplib, ready-made messages':<52} {recipients:>8} {alone:>8.1f} "
          f"{recipients / alone:>10.0f}      -")
    print(f"{'fan-out: event -> notification_batch_completed':<52} {sent:>8} {total_seconds:>8.1f} "
          f"{sent / total_seconds:>10.0f}  {(sent / total_seconds) / (recipients / alone):5.3f}")
    print(f"recipients selected (all queued) after {selected_at:.1f} s; sent {sent:,}, failed "
          f"{last['failed']}; the SMTP server counted {received:,} fan-out e-mails, "
          f"{received_bytes / max(1, received):.0f} bytes each on average (ceiling: {ceiling_count:,}, "
          f"{ceiling_bytes / max(1, ceiling_count):.0f} bytes)")
    print("CPU ms per e-mail by process (ceiling | fan-out):")
    for name in groups:
        (a, na), (f, nf) = cpu_alone.get(name, (0.0, 0)), cpu_fanout.get(name, (0.0, 0))
        print(f"  {name:<28} {a * 1000 / recipients:7.3f} | {f * 1000 / max(1, sent):7.3f}   "
              f"({nf} process{'es' if nf != 1 else ''})")
    own = instances + ["registry", "SMTP sink", "PostgreSQL backends"]
    total_alone = sum(cpu_alone[n][0] for n in ("SMTP sink", "this client"))
    total_fanout = sum(cpu_fanout[n][0] for n in own)
    print(f"  {'total':<28} {total_alone * 1000 / recipients:7.3f} | {total_fanout * 1000 / max(1, sent):7.3f}"
          "   (ceiling: sink and client; fan-out: notifications, registry, sink, PostgreSQL)")

if __name__ == "__main__":
    main()
