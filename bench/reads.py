"""Reads under a spike: a consultation with 10,000 published comments, its page and the API behind it,
today's code beside the code before the reads work, in one run on one system.

It starts an isolated system (this tree's services and gateway, ``PUBLIC_CACHE_SECONDS`` as given),
seeds the comments with SQL, and starts beside it:

* a *before* gateway: the tree of ``--baseline-ref`` (``git archive``, default the commit before the
  reads work) under the same gunicorn settings against the same services and databases: its page makes
  three RPCs (consultation, comments, tallies), its API two requests (consultation + comments), its
  ETags are computed from a full render;
* Debian's nginx twice, as a foreground process on a free port with a temporary prefix: the repo's
  ``deploy/nginx/default.conf`` in front of today's gateway, that file at ``--baseline-ref`` in front of
  the before gateway.

Each case runs ``--seconds`` with ``--concurrency`` keep-alive connections spread over ``--processes``
client processes (http.client; anonymous unless said, ``Accept-Encoding: gzip`` like a browser), and
prints requests per second (an "op" of two requests counts once), p50/p95/p99, errors, and CPU
milliseconds per op of every process that worked (gateway workers, consultations, registry, the
PostgreSQL backends of this run, nginx, the RabbitMQ node — shared with the machine —, the client).
"rendered" rows send ``Cache-Control: no-cache``, which makes today's gateway render (one RPC) instead
of answering from its worker's copy: the uncached cost. The sequential rows are the p99 target
(10,000-comment page under 50 ms through the gateway).

    python bench/reads.py [--comments 10000] [--seconds 10] [--concurrency 8] [--processes 4]
                          [--cache-seconds 5] [--baseline-ref c63e2f6]
"""
from __future__ import annotations

import argparse
import http.client
import io
import multiprocessing
import os
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import isolated_system, machine  # noqa: E402
from consultations import seeded_consultation  # noqa: E402
from cpu import CpuSampler, children, pids_named  # noqa: E402

BROWSER = {"Accept-Encoding": "gzip", "User-Agent": "bench-reads"}
RENDER = {**BROWSER, "Cache-Control": "no-cache"}
CLIENT_PIDS: list[int] = []  # the client processes of the case running now


@dataclass
class Case:
    name: str
    port: int
    requests: list[tuple[str, dict, tuple[int, ...]]]  # one op: (path, headers, accepted statuses)
    concurrency: int
    before: str = ""  # the name of the row this one is compared with
    cpu: dict[str, float] = field(default_factory=dict)
    ops: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0

    @property
    def rps(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] * 1000 if xs else float("nan")


def _client(port: int, requests: list, threads: int, start_at: float, seconds: float):
    """One client process: ``threads`` keep-alive connections, each doing ops until the deadline."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = start_at + seconds

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, bad = [], 0
        while time.monotonic() < start_at:
            time.sleep(0.001)
        while time.monotonic() < deadline:
            started, good = time.perf_counter(), True
            for path, headers, ok in requests:
                try:
                    conn.request("GET", path, headers=headers)
                    r = conn.getresponse()
                    r.read()
                    good &= r.status in ok
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    good = False
            mine.append(time.perf_counter() - started)
            bad += not good
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return latencies, errors[0], time.monotonic()


def run(case: Case, seconds: float, processes: int, sampler: CpuSampler) -> Case:
    processes = max(1, min(processes, case.concurrency))
    per = [case.concurrency // processes + (1 if i < case.concurrency % processes else 0) for i in range(processes)]
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(processes, mp_context=ctx) as pool:
        pool.submit(time.sleep, 0).result()  # the workers exist before the clock starts
        list(pool.map(time.sleep, [0] * processes))
        CLIENT_PIDS[:] = [os.getpid(), *pool._processes]
        start_at = time.monotonic() + 0.3
        sampler.mark()
        futures = [pool.submit(_client, case.port, case.requests, n, start_at, seconds) for n in per]
        results = [f.result() for f in futures]
        used = sampler.delta()
    case.latencies = [x for r in results for x in r[0]]
    case.errors = sum(r[1] for r in results)
    case.ops = len(case.latencies)
    case.seconds = max(r[2] for r in results) - start_at
    case.cpu = {group: secs * 1000 / case.ops for group, (secs, _) in used.items() if case.ops and secs > 0}
    return case


def etag(port: int, path: str, headers: dict) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers=headers)
    r = conn.getresponse()
    r.read()
    conn.close()
    assert r.status == 200 and r.getheader("ETag"), (path, r.status, r.getheaders())
    return r.getheader("ETag")


def extract(ref: str, into: Path) -> None:
    """The tree of ``ref`` (code only) into ``into``."""
    data = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "chassis", "gateway", "services", "deploy"],
                          check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(into)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--comments", type=int, default=10_000)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--processes", type=int, default=4, help="client processes sharing the connections")
    ap.add_argument("--cache-seconds", type=int, default=5, help="PUBLIC_CACHE_SECONDS of today's gateway")
    ap.add_argument("--baseline-ref", default="c63e2f6", help="the code before the reads work")
    args = ap.parse_args()

    import psycopg
    import requests

    from chassis.testing.api import dev_login
    from chassis.testing.cluster import Cluster
    from chassis.testing.nginx import Nginx
    from chassis.testing.world import free_port

    old_tree = Path(tempfile.mkdtemp(prefix="econsult-before-"))
    extract(args.baseline_ref, old_tree)
    old_conf = subprocess.run(["git", "-C", str(ROOT), "show", f"{args.baseline_ref}:deploy/nginx/default.conf"],
                              check=True, capture_output=True, text=True).stdout
    fronts: list[Nginx] = []
    with isolated_system(PUBLIC_CACHE_SECONDS=str(args.cache_seconds)) as (world, cluster):
        base = world.base_url
        cid, dsn = seeded_consultation(world, args.comments)
        resident = dev_login(base, full_name="Мешканка Читачка Олена")

        old_port = free_port()
        before = Cluster({**world.vars, "GATEWAY_PORT": str(old_port), "PYTHONPATH": str(old_tree),
                          "GATEWAY_METRICS_PORT": str(free_port()),
                          "PROMETHEUS_MULTIPROC_DIR": str(old_tree / "metrics")},
                         ROOT / "var" / "bench-logs" / world.run_id, f"http://127.0.0.1:{old_port}")
        # run from the old tree itself: the working directory comes first on sys.path
        before.procs["gateway"] = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "-c", "gateway/gunicorn.conf.py", "gateway.wsgi:app"],
            cwd=old_tree, env=before.env, stdout=open(before.log_path("gateway-before"), "ab"),
            stderr=subprocess.STDOUT, start_new_session=True)
        try:
            before.wait_ready(60, path="/consultations/" + cid)
            probe = requests.get(f"{before.base_url}/consultations/{cid}", timeout=30)
            assert "public" not in probe.headers.get("Cache-Control", ""), "the before gateway runs today's code"
            now_port = int(base.rsplit(":", 1)[1])
            fronts = [Nginx(free_port(), f"127.0.0.1:{now_port}", workers=2).start(),
                      Nginx(free_port(), f"127.0.0.1:{old_port}", workers=2, conf=old_conf).start()]
            front_now, front_before = fronts

            db_admin = psycopg.connect(f"{world.database_url}/postgres", autocommit=True)
            admin_lock = threading.Lock()

            def backends() -> list[int]:
                with admin_lock:
                    rows = db_admin.execute("SELECT pid FROM pg_stat_activity WHERE datname LIKE %s",
                                            (world.db_prefix + "%",)).fetchall()
                return [r[0] for r in rows if r[0] != db_admin.info.backend_pid]

            sampler = CpuSampler({
                "gateway workers (today)": lambda: children(cluster.procs["gateway"].pid),
                "gateway workers (before)": lambda: children(before.procs["gateway"].pid),
                "consultations": lambda: [cluster.procs["consultations"].pid],
                "registry": lambda: [cluster.procs["registry"].pid],
                "PostgreSQL backends": backends,
                "nginx (today's config)": front_now.pids,
                "nginx (before's config)": front_before.pids,
                "RabbitMQ node (shared)": lambda: pids_named("beam.smp"),
                "client processes": lambda: list(CLIENT_PIDS),
            }).start()

            page, api, comments = f"/consultations/{cid}", f"/api/v1/consultations/{cid}", f"/api/v1/consultations/{cid}/comments"
            page_api = f"/api/v1/consultations/{cid}/page"
            bearer = {**BROWSER, "Authorization": f"Bearer {resident.token}"}
            for port, path in ((now_port, page), (now_port, page_api), (old_port, page), (old_port, api),
                               (old_port, comments), (front_now.port, page), (front_before.port, page)):
                requests.get(f"http://127.0.0.1:{port}{path}", headers=BROWSER, timeout=30)  # warm
            old_tags = {p: etag(old_port, p, BROWSER) for p in (api, comments)}
            now_page_tag, now_api_tag = etag(now_port, page, BROWSER), etag(now_port, page_api, BROWSER)
            ok, not_modified = (200,), (304,)
            c = args.concurrency
            cases = [
                Case("before: page, sequential", old_port, [(page, BROWSER, ok)], 1),
                Case("today: page rendered, sequential", now_port, [(page, RENDER, ok)], 1,
                     "before: page, sequential"),
                Case("today: API page rendered, sequential", now_port, [(page_api, RENDER, ok)], 1),
                Case(f"before: page x{c}", old_port, [(page, BROWSER, ok)], c),
                Case(f"today: page rendered x{c}", now_port, [(page, RENDER, ok)], c, f"before: page x{c}"),
                Case(f"today: page x{c}", now_port, [(page, BROWSER, ok)], c, f"before: page x{c}"),
                Case(f"today: page 304 x{c}", now_port, [(page, {**BROWSER, "If-None-Match": now_page_tag},
                                                          not_modified)], c, f"before: page x{c}"),
                Case(f"before: API consultation + comments x{c}", old_port,
                     [(api, BROWSER, ok), (comments, BROWSER, ok)], c),
                Case(f"before: API same, 304s x{c}", old_port,
                     [(p, {**BROWSER, "If-None-Match": t}, not_modified) for p, t in old_tags.items()], c),
                Case(f"today: API page rendered x{c}", now_port, [(page_api, RENDER, ok)], c,
                     f"before: API consultation + comments x{c}"),
                Case(f"today: API page x{c}", now_port, [(page_api, BROWSER, ok)], c,
                     f"before: API consultation + comments x{c}"),
                Case(f"today: API page 304 x{c}", now_port, [(page_api, {**BROWSER, "If-None-Match": now_api_tag},
                                                              not_modified)], c, f"before: API same, 304s x{c}"),
                Case(f"today: API page, logged in x{c}", now_port, [(page_api, bearer, ok)], c),
                Case(f"before: nginx + gateway, page x{c}", front_before.port, [(page, BROWSER, ok)], c),
                Case(f"today: nginx + gateway, page x{c}", front_now.port, [(page, BROWSER, ok)], c,
                     f"before: nginx + gateway, page x{c}"),
                Case(f"today: nginx + gateway, API page x{c}", front_now.port, [(page_api, BROWSER, ok)], c),
                Case(f"today: nginx + gateway, page x{4 * c}", front_now.port, [(page, BROWSER, ok)], 4 * c,
                     f"before: nginx + gateway, page x{c}"),
            ]
            for case in cases:
                run(case, args.seconds, args.processes, sampler)
                print(f"  {case.name}: {case.rps:.1f} ops/s", file=sys.stderr, flush=True)
            sampler.stop()
            db_admin.close()
        finally:
            for front in fronts:
                front.stop()
            before.stop_all()

    by_name = {case.name: case for case in cases}
    print(f"# bench/reads.py on {machine()}, load average {os.getloadavg()[0]:.1f}; {args.comments} published "
          f"comments; {args.seconds:.0f} s a case; gunicorn 2 workers x 8 threads both sides; "
          f"PUBLIC_CACHE_SECONDS={args.cache_seconds}; before = {args.baseline_ref}")
    print(f"{'case':<44} {'ops':>6} {'ops/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'err':>4} {'x before':>8}")
    for case in cases:
        ref = by_name.get(case.before)
        ratio = f"{case.rps / ref.rps:8.2f}" if ref and ref.rps else f"{'-':>8}"
        print(f"{case.name:<44} {case.ops:>6} {case.rps:>8.1f} {case.pct(50):>7.1f} {case.pct(95):>7.1f} "
              f"{case.pct(99):>7.1f} {case.errors:>4} {ratio}")
    print("\nCPU ms per op, by process group (groups that did nothing left out):")
    for case in cases:
        print(f"{case.name:<44} " + ", ".join(f"{g} {ms:.2f}" for g, ms in case.cpu.items()))


if __name__ == "__main__":
    main()
