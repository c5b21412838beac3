"""Open-loop load: comments from many distinct residents at fixed offered rates, with the CPU each
process spends per request.

One active consultation; ``--residents`` residents (200) logged in first; for each offered rate
(20, 50, 100, 200 per second) a phase of ``--seconds`` sends a new comment text at fixed times,
whatever the answers (open loop: latency counts from the *scheduled* send time, so a queueing
system is not flattered). Per phase it prints the achieved rate (2xx answers per second), p50 /
p95 / p99, errors (by status), submit → public latency (the comment's row turning ``published``,
which is exactly what the public list reads; polled in the consultations database every 10 ms while
the phase runs and up to 30 s after it, in one read-committed transaction per phase), and
CPU milliseconds per request of every process (each gunicorn worker of the gateway, each service,
the PostgreSQL backends serving this run's databases, the RabbitMQ node — shared with anything else
on the machine —, and this client), SQL statements per request (``SQL_COUNT``) and transactions per
request (``pg_stat_database``); the CPU, statements and transactions also per comment written in the
window (rows counted in the database: on a loaded machine the client may give up on requests the
services still complete).

The rate limits stay on (their counting is part of a write's cost) with limits high enough for one client
address: 200 residents at 200/s would otherwise hit the per-person and per-address limits.

    python bench/load.py [--residents 200] [--rates 20,50,100,200] [--seconds 20]
"""
from __future__ import annotations

import argparse
import collections
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import isolated_system, machine  # noqa: E402
from cpu import CpuSampler, children, pids_named  # noqa: E402

from chassis.settings import SERVICES  # noqa: E402

WORDS = ("лавки", "ліхтарі", "урни", "велодоріжку", "пандус", "зупинку", "клумбу", "тротуар", "парковку",
         "дитячий майданчик", "навіс", "питний фонтанчик")
PLACES = ("біля школи", "у парку", "на площі", "біля ринку", "на набережній", "у дворі", "біля лікарні",
          "на розі вулиць")


def text_for(k: int) -> str:
    """A new, plain proposal per request (no long digit runs the contact check could take for a phone)."""
    a, b, c = WORDS[k % len(WORDS)], PLACES[(k // len(WORDS)) % len(PLACES)], WORDS[(k * 7 + 3) % len(WORDS)]
    return f"Пропоную облаштувати {a} {b}, а також {c}; пропозиція номер {k}."


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] * 1000 if xs else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--residents", type=int, default=200)
    ap.add_argument("--rates", default="20,50,100,200")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--max-in-flight", type=int, default=256, help="requests open at once; past it a "
                    "scheduled request is counted as an error (not sent), so a slow system cannot hide")
    ap.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                    help="extra setting for the system under test (e.g. DB_POOL_SIZE=8); repeatable")
    args = ap.parse_args()
    rates = [float(r) for r in args.rates.split(",")]

    import psycopg
    import requests
    from nameko.standalone.rpc import ClusterRpcProxy

    from chassis.workdays import local_today
    from common import NOTICE
    from chassis.testing.api import dev_login

    extra = dict(kv.split("=", 1) for kv in args.env)
    with isolated_system(SQL_COUNT="1", RATE_WRITES_PER_PERSON="100000", RATE_WRITES_PER_ADDRESS="100000",
                         RATE_LOGINS_PER_ADDRESS="100000", **extra) as (world, cluster):
        base, api = world.base_url, world.base_url + "/api/v1"
        official = dev_login(base, ["official"], unit="Управління благоустрою")
        body = {"form": "proposal", "title": "Благоустрій центру міста", "category": 17, "notice": NOTICE,
                "question": "Що облаштувати в центрі міста насамперед?",
                "alternatives": [{"text": "Лавки та ліхтарі"}, {"text": "Велодоріжки"}],
                "starts_on": local_today().isoformat(), "ends_on": (local_today() + timedelta(days=20)).isoformat()}
        cid = official.post("/api/v1/consultations", json=body).json()["id"]
        assert official.post(f"/api/v1/consultations/{cid}/publish").json()["status"] == "active"
        with ThreadPoolExecutor(8) as ex:
            residents = list(ex.map(lambda i: dev_login(base, full_name=f"Мешканець Навантаження {i:03d}"),
                                    range(args.residents)))
        headers = [r.headers() for r in residents]

        db_admin = psycopg.connect(f"{world.database_url}/postgres", autocommit=True)
        # one READ COMMITTED transaction per phase (each poll sees what committed before it), so its
        # polls add no transactions to the counts
        poller_db = psycopg.connect(f"{world.database_url}/{world.db_prefix}consultations")
        counter_db = psycopg.connect(f"{world.database_url}/{world.db_prefix}consultations", autocommit=True)

        def written() -> int:
            return counter_db.execute("SELECT count(*) FROM comments WHERE consultation_id = %s", (cid,)).fetchone()[0]
        own_backends = {db_admin.info.backend_pid, poller_db.info.backend_pid, counter_db.info.backend_pid}
        admin_lock = threading.Lock()

        def backends() -> list[int]:
            with admin_lock:
                rows = db_admin.execute("SELECT pid FROM pg_stat_activity WHERE datname LIKE %s",
                                        (world.db_prefix + "%",)).fetchall()
            return [r[0] for r in rows if r[0] not in own_backends]

        groups = {"gateway workers": lambda: children(cluster.procs["gateway"].pid),
                  **{s: (lambda s=s: [cluster.procs[s].pid]) for s in SERVICES},
                  "PostgreSQL backends": backends,
                  "RabbitMQ node (shared)": lambda: pids_named("beam.smp"),
                  "this client": lambda: [__import__("os").getpid()]}
        sampler = CpuSampler(groups).start()

        def transactions() -> int:
            with admin_lock:
                db_admin.execute("SELECT pg_stat_clear_snapshot()")
                return db_admin.execute("SELECT sum(xact_commit + xact_rollback) FROM pg_stat_database "
                                        "WHERE datname LIKE %s", (world.db_prefix + "%",)).fetchone()[0]

        def statements(rpc) -> int:
            return sum(getattr(rpc, s).health()["sql_statements"] - 2 for s in SERVICES)

        sessions = threading.local()
        counter = iter(range(10**9))
        print(f"# bench/load.py on {machine()}; {args.residents} residents, open loop, "
              f"{args.seconds:.0f} s per rate; extra settings: {extra or 'none'}")
        with ClusterRpcProxy({"AMQP_URI": world.amqp_uri}, timeout=10) as rpc:
            for rate in rates:
                results: list[tuple[float, float, int, str | None]] = []  # scheduled, done, status, id
                res_lock = threading.Lock()
                in_flight = threading.Semaphore(args.max_in_flight)
                dropped = 0

                def send(scheduled: float, k: int):
                    s = getattr(sessions, "s", None) or requests.Session()
                    sessions.s = s
                    status, cid_ = 0, None
                    try:
                        r = s.post(f"{api}/consultations/{cid}/comments", json={"body": text_for(k)},
                                   headers=headers[k % len(headers)], timeout=10)
                        status = r.status_code
                        if status == 201:
                            cid_ = r.json()["id"]
                    except requests.RequestException:
                        status = -1
                    finally:
                        in_flight.release()
                    with res_lock:
                        results.append((scheduled, time.time(), status, cid_))

                # submit -> public, polled while the phase runs (and up to 30 s after it): every
                # accepted comment from its scheduled send until its row reads published
                public: list[float] = []
                seen: set[str] = set()
                sending = threading.Event()

                def poll_public():
                    deadline = None
                    while True:
                        with res_lock:
                            waiting = {i: s for s, _, st, i in results if st == 201 and i not in seen}
                        if not sending.is_set():
                            deadline = deadline or time.time() + 30
                            if not waiting or time.time() > deadline:
                                poller_db.rollback()
                                return
                        if waiting:
                            rows = poller_db.execute("SELECT id::text FROM comments WHERE status = 'published' "
                                                     "AND id = ANY(%s::uuid[])", (list(waiting),)).fetchall()
                            now = time.time()
                            for (i,) in rows:
                                seen.add(i)
                                public.append(now - waiting[i])
                        time.sleep(0.01)

                sending.set()
                poller = threading.Thread(target=poll_public, daemon=True)
                poller.start()
                tx0, st0, w0 = transactions(), statements(rpc), written()
                sampler.mark()
                n = int(rate * args.seconds)
                start = time.time() + 0.2
                with ThreadPoolExecutor(args.max_in_flight) as ex:
                    for i in range(n):
                        at = start + i / rate
                        delay = at - time.time()
                        if delay > 0:
                            time.sleep(delay)
                        if not in_flight.acquire(blocking=False):
                            dropped += 1
                            continue
                        ex.submit(send, at, next(counter))
                elapsed = time.time() - start
                cpu = sampler.delta()
                tx1, st1, w1 = transactions(), statements(rpc), written()

                ok = [(s, d, i) for s, d, st, i in results if st == 201]
                sending.clear()
                poller.join()
                pending = [i for _, _, i in ok if i not in seen]
                statuses = collections.Counter(st for _, _, st, _ in results if st != 201)
                errors = sum(statuses.values()) + dropped
                lat = [d - s for s, d, _ in ok]
                print(f"\n## offered {rate:.0f}/s: sent {len(results)}, achieved {len(ok) / elapsed:.1f}/s, "
                      f"p50 {pct(lat, 50):.0f} ms, p95 {pct(lat, 95):.0f} ms, p99 {pct(lat, 99):.0f} ms, "
                      f"errors {errors} {dict(statuses) or ''}{f' (+{dropped} not sent: in-flight cap)' if dropped else ''}")
                print(f"   submit -> public: p50 {pct(public, 50):.0f} ms, p95 {pct(public, 95):.0f} ms, "
                      f"p99 {pct(public, 99):.0f} ms; {len(pending)} not public after 30 s")
                done = max(1, len(ok))
                total = sum(c for name, (c, _) in cpu.items() if name != "this client")
                print(f"   CPU ms per accepted comment (processes): total {total * 1000 / done:.1f} "
                      f"(without the client)")
                for name, (seconds, procs) in cpu.items():
                    print(f"     {name:<26} {seconds * 1000 / done:7.2f}   ({procs} process{'es' if procs != 1 else ''})")
                print(f"   SQL statements per comment {(st1 - st0) / done:.1f}, transactions per comment "
                      f"{(tx1 - tx0) / done:.1f}")
                # on a machine too busy to answer in time, requests the client gave up on are still
                # written: per comment written in the window, the CPU is the services' whatever the client saw
                rows = max(1, w1 - w0)
                print(f"   per comment written in the window ({w1 - w0}): CPU ms total {total * 1000 / rows:.1f} (" + ", ".join(
                    f"{name} {seconds * 1000 / rows:.2f}" for name, (seconds, _) in cpu.items()) + f"); SQL "
                      f"statements {(st1 - st0) / rows:.1f}, transactions {(tx1 - tx0) / rows:.1f}")
                time.sleep(2)  # let the tail of this phase settle before the next one
        sampler.stop()
        total_public = requests.get(f"{api}/consultations/{cid}/comments", timeout=10).json()["total"]
        print(f"\n# public list total after the run: {total_public}")


if __name__ == "__main__":
    main()
