"""CPU time per process from ``/proc``, sampled in the background so short-lived processes (a
PostgreSQL backend a pool opened and closed) are counted up to their last sample.

A *group* is a named set of processes found again at every sample by a function (the gateway's
gunicorn workers, the PostgreSQL backends serving our databases, ...). ``delta()`` gives CPU seconds
per group since ``mark()``.
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of one process (its threads included), or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / TICK  # fields 14 and 15 of stat(5)


def children(pid: int) -> list[int]:
    out = []
    for task in os.listdir(f"/proc/{pid}/task") if os.path.isdir(f"/proc/{pid}/task") else []:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(x) for x in f.read().split()]
        except FileNotFoundError:
            pass
    return out


def pids_named(name: str) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() == name:
                        out.append(int(entry))
            except FileNotFoundError:
                pass
    return out


class CpuSampler:
    def __init__(self, groups: dict[str, Callable[[], list[int]]], interval: float = 0.2):
        self.groups, self.interval = groups, interval
        self.last: dict[str, dict[int, float]] = {g: {} for g in groups}  # group -> pid -> last seen
        self.base: dict[str, dict[int, float]] = {g: {} for g in groups}
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "CpuSampler":
        self.sample()
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join()

    def _run(self) -> None:
        while not self.stopped.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        for group, find in self.groups.items():
            try:
                pids = find()
            except Exception:
                continue
            for pid in pids:
                seconds = cpu_seconds(pid)
                if seconds is not None:
                    with self.lock:
                        self.last[group][pid] = seconds

    def mark(self) -> None:
        """Start a measurement: what each process has used so far is not counted."""
        self.sample()
        with self.lock:
            self.base = {g: dict(p) for g, p in self.last.items()}

    def delta(self) -> dict[str, tuple[float, int]]:
        """CPU seconds per group since mark(), and how many processes of it ran."""
        self.sample()
        out = {}
        with self.lock:
            for group, pids in self.last.items():
                used = [seconds - self.base[group].get(pid, 0.0) for pid, seconds in pids.items()]
                ran = [u for u in used if u > 0]
                out[group] = (sum(ran), len(ran))
        return out


def postgres_backends(database_url: str, db_prefix: str, exclude: Callable[[], set[int]] = set) -> Callable[[], list[int]]:
    """A group finder: the PostgreSQL backends serving the databases named ``<db_prefix>…``, except
    the finder's own connection and ``exclude()`` (a benchmark's own connections)."""
    import psycopg

    admin = psycopg.connect(f"{database_url}/postgres", autocommit=True)
    lock = threading.Lock()

    def find() -> list[int]:
        with lock:
            rows = admin.execute("SELECT pid FROM pg_stat_activity WHERE datname LIKE %s",
                                 (db_prefix + "%",)).fetchall()
        skip = {admin.info.backend_pid, *exclude()}
        return [r[0] for r in rows if r[0] not in skip]

    return find
