"""What tracing and metrics cost per request, in CPU milliseconds summed over every process of the
system (gateway master and workers, five services), with tracing off and on (OTLP/HTTP to a local
sink that accepts everything, so the encoding and export are paid in full).

Two actions: a comment (POST, then its whole path: outbox, moderation, back to consultations) and a
read of a consultation's comments (GET). The idle CPU of the same processes (timers, relays) is
measured first and subtracted.

    python bench/observability.py [--requests 200] [--concurrency 4]
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import drive  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(groups: set[int]) -> float:
    """user+system CPU of every live process in the given process groups."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) in groups:  # pgrp
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


class Sink(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def run(label: str, extra: dict, n: int, concurrency: int) -> tuple[float, float]:
    from chassis.workdays import local_today
    from common import NOTICE, draft
    from chassis.testing.api import dev_login
    from chassis.testing.infra import discover
    from chassis.testing.world import destroy_world, make_world, start_system

    infra = discover()
    env = make_world(infra, **extra)
    system = start_system(env)
    try:
        base = system.base_url
        official = dev_login(base, ["official"], unit="Управління вимірювань")
        body = draft(notice=NOTICE, starts_on=local_today().isoformat(),
                     ends_on=(local_today() + timedelta(days=15)).isoformat(), title="Вимірювання вартості")
        cid = official.post("/api/v1/consultations", json=body).json()["id"]
        official.post(f"/api/v1/consultations/{cid}/publish")
        residents = [dev_login(base, full_name="Мешканець Вимірювань") for _ in range(concurrency)]
        groups = {p.pid for p in system.procs.values()}
        url = f"{base}/api/v1/consultations/{cid}/comments"

        serial = iter(range(10**6))  # every text differs: the same text twice is a conflict

        def comment(session, i):
            who = residents[i % len(residents)]
            r = session.post(url, json={"body": f"Пропозиція номер {next(serial)}: облаштувати тротуар і "
                                                "освітлення."},
                             headers=who.headers(), timeout=30)
            return r.status_code in (200, 201)

        def read(session, i):
            return session.get(url, timeout=30).status_code == 200

        drive("warm-up", comment, 40, concurrency)
        drive("warm-up", read, 40, concurrency)
        time.sleep(3)
        c0, t0 = cpu_seconds(groups), time.monotonic()
        time.sleep(10)
        idle_rate = (cpu_seconds(groups) - c0) / (time.monotonic() - t0)
        out = []
        for name, op in (("comment (whole path)", comment), ("read comments", read)):
            c0, t0 = cpu_seconds(groups), time.monotonic()
            figures = drive(name, op, n, concurrency)
            time.sleep(3)  # the comment's events finish their path
            used = cpu_seconds(groups) - c0 - idle_rate * (time.monotonic() - t0)
            out.append(used * 1000 / n)
            print(f"{label:<12} {name:<22} {n:>5} req  {figures.rps:7.1f} req/s  p50 {figures.pct(50):6.1f} ms  "
                  f"CPU {used * 1000 / n:6.2f} ms/req  (idle {idle_rate * 1000:.0f} ms/s subtracted, "
                  f"errors {figures.errors})", flush=True)
        return out[0], out[1]
    finally:
        system.stop_all()
        destroy_world(infra, env)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=4)
    args = ap.parse_args()
    sink = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{sink.server_address[1]}"
    off = run("tracing off", {"TRACING": "off"}, args.requests, args.concurrency)
    on = run("tracing on", {"TRACING": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
                            "OTEL_BSP_SCHEDULE_DELAY": "1000"}, args.requests, args.concurrency)
    print(f"tracing adds {on[0] - off[0]:.2f} ms CPU per comment (whole path), {on[1] - off[1]:.2f} ms per read")
    sink.shutdown()


if __name__ == "__main__":
    main()
