"""Moderation: how fast a clean comment becomes public.

    python bench/moderation.py [--comments 200]

Through an isolated running system: 200 clean comments, each submitted and then polled until it is
public; p50/p95 of submission→public beside the submission round trip alone (the baseline). The
screening's false positives on ordinary text: ``python -m tests.support.corpus [--dictionary]``.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import machine  # noqa: E402


def pct(values: list[float], p: float) -> float:
    xs = sorted(values)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def latency(n: int) -> None:
    import requests

    from chassis.workdays import local_today
    from common import NOTICE, draft
    from chassis.testing.api import dev_login
    from chassis.testing.infra import discover
    from chassis.testing.world import destroy_world, make_world, start_system

    infra = discover()
    world = make_world(infra, LOG_LEVEL="WARNING")
    cluster = start_system(world)
    try:
        base = world.base_url
        official = dev_login(base, ["official"], unit="Управління бенчмарків")
        body = draft(notice=NOTICE, starts_on=local_today().isoformat(),
                     ends_on=(local_today() + timedelta(days=15)).isoformat())
        cid = official.post("/api/v1/consultations", json=body).json()["id"]
        official.post(f"/api/v1/consultations/{cid}/publish")
        people = [dev_login(base, full_name=f"Учасник {i}") for i in range(10)]
        submit, public = [], []
        session = requests.Session()
        for i in range(n):
            person = people[i % len(people)]
            t0 = time.perf_counter()
            r = person.post(f"/api/v1/consultations/{cid}/comments",
                            json={"body": f"Пропозиція {i}: додати вечірній рейс і лавки на зупинці."})
            t1 = time.perf_counter()
            comment_id = r.json()["id"]
            while True:
                items = session.get(f"{base}/api/v1/consultations/{cid}/comments", params={"per_page": 5},
                                    timeout=10).json()["items"]
                if any(c["id"] == comment_id for c in items):
                    break
                if time.perf_counter() - t0 > 30:
                    raise TimeoutError(f"comment {i} not public after 30 s")
                time.sleep(0.02)
            submit.append(t1 - t0)
            public.append(time.perf_counter() - t0)
        print(f"clean comments through the gateway: {n}")
        print(f"{'case':<44} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
        print(f"{'POST comment round trip (baseline)':<44} {statistics.median(submit) * 1000:>8.1f} "
              f"{pct(submit, 95) * 1000:>8.1f} {max(submit) * 1000:>8.1f}")
        print(f"{'submission → public (screened, published)':<44} {statistics.median(public) * 1000:>8.1f} "
              f"{pct(public, 95) * 1000:>8.1f} {max(public) * 1000:>8.1f}")
        print(f"ratio of p95 public / p95 submission: {pct(public, 95) / pct(submit, 95):.2f}; "
              f"target p95 < 2000 ms: {'met' if pct(public, 95) < 2 else 'MISSED'}")
    finally:
        cluster.stop_all()
        destroy_world(infra, world)
        infra.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--comments", type=int, default=200)
    args = ap.parse_args()
    print(f"# bench/moderation.py on {machine()}")
    latency(args.comments)


if __name__ == "__main__":
    main()
