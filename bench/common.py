"""Shared by the benchmarks: a bounded HTTP load loop on loopback and a figures table.

Every benchmark either measures a running system (``--url``) or starts its own isolated one (own
vhost and databases, like the tests) and removes it afterwards.
"""
from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


@dataclass
class Figures:
    name: str
    requests: int
    seconds: float
    latencies: list[float]
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] * 1000 if xs else 0.0

    def row(self, baseline: "Figures | None" = None) -> str:
        ratio = f"{self.rps / baseline.rps:6.3f}" if baseline and baseline.rps else "     -"
        return (f"{self.name:<44} {self.requests:>7} {self.rps:>9.1f} {self.pct(50):>8.2f} "
                f"{self.pct(99):>8.2f} {self.errors:>6}  {ratio}")


HEADER = f"{'case':<44} {'requests':>7} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}  ratio"


def hammer(name: str, url: str, total: int, concurrency: int, method: str = "GET",
           body_for=None, ok=(200,), headers: dict | None = None, headers_for=None) -> Figures:
    """Send ``total`` requests with ``concurrency`` threads (each its own keep-alive session);
    ``headers_for(i)`` gives request i its own headers (e.g. a different caller)."""
    def op(session: requests.Session, i: int) -> bool:
        r = session.request(method, url, json=body_for(i) if body_for else None,
                            headers=headers_for(i) if headers_for else headers, timeout=30)
        return r.status_code in ok

    return drive(name, op, total, concurrency)


def drive(name: str, op, total: int, concurrency: int) -> Figures:
    """Run ``op(session, i) -> ok`` ``total`` times on ``concurrency`` threads, each with its own
    keep-alive session; one latency per call of ``op`` (which may make several requests)."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    counter = iter(range(total))

    def worker():
        nonlocal errors
        session = requests.Session()
        mine, bad = [], 0
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            started = time.perf_counter()
            try:
                good = op(session, i)
            except requests.RequestException:
                good = False
            mine.append(time.perf_counter() - started)
            bad += not good
        with lock:
            latencies.extend(mine)
            errors += bad

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return Figures(name, total, time.perf_counter() - started, latencies, errors)


def parse_args(description: str) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--url", help="a running gateway (default: start an isolated system)")
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=16)
    return ap.parse_args()


@contextlib.contextmanager
def system(url: str | None):
    """Yield a base URL: the given one, or a freshly started isolated system."""
    if url:
        yield url.rstrip("/")
        return
    with isolated_system() as (world, _):
        yield world.base_url


@contextlib.contextmanager
def isolated_system(**settings):
    """Start an isolated system (own vhost and databases, ``settings`` on top of the test world's)
    and yield ``(world, cluster)``; everything is stopped and removed afterwards."""
    from chassis.testing.infra import discover
    from chassis.testing.world import destroy_world, make_world, start_system

    infra = discover()
    world = make_world(infra, **{"LOG_LEVEL": "WARNING", **settings})
    cluster = start_system(world)
    try:
        yield world, cluster
    finally:
        cluster.stop_all()
        destroy_world(infra, world)
        infra.stop()


# What the benchmarks' officials publish: a notice with every field the publication check asks for.
NOTICE = {
    "holder": "Виконавчий комітет міської ради",
    "materials": "Пояснювальна записка і розрахунки, додані до оголошення",
    "stakeholders": "Мешканці громади, яких стосується рішення",
    "consequences": "Зміни для мешканців описано в пояснювальній записці",
    "procedure": "Пропозиції подаються через веб-сервіс до дати завершення",
    "participation": "Оголошення на сайті ради",
    "responsible_official": "Коваленко Марія Петрівна",
    "results_publication": "Звіт буде оприлюднено протягом 15 днів після завершення",
}


def draft(**over) -> dict:
    """A consultation draft of the benchmarks (``over`` replaces or adds fields)."""
    return {"form": "proposal", "title": "Тарифи на проїзд", "category": 17,
            "question": "Чи підтримуєте ви зміну тарифу на проїзд?",
            "alternatives": [{"text": "Залишити як є"}, {"text": "Змінити з пільгами"}], **over}


def stop_process(proc) -> None:
    """Stop a process this benchmark started: SIGTERM, and SIGKILL if it is still there after the
    gunicorn grace period (a loaded machine can outlast it), so the system under test is always torn
    down after it."""
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def machine() -> str:
    import os
    import platform

    return f"{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}"


def summary(values: list[float]) -> str:
    return f"median {statistics.median(values):.1f}" if values else "-"
