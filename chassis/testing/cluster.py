"""Start and stop the system's processes for tests, with the same commands as the Procfile, so
each one can be stopped, killed and started again on its own (honcho stops all when one dies)."""
from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def procfile_commands(path: Path = ROOT / "Procfile") -> dict[str, list[str]]:
    commands = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, cmd = line.split(":", 1)
            argv = shlex.split(cmd)
            exe = BIN / argv[0]
            argv[0] = str(exe) if exe.exists() else argv[0]
            commands[name.strip()] = argv
    return commands


class Cluster:
    def __init__(self, env: dict, log_dir: Path, base_url: str):
        self.env, self.log_dir, self.base_url = env, log_dir, base_url
        self.commands = procfile_commands()
        self.procs: dict[str, subprocess.Popen] = {}
        log_dir.mkdir(parents=True, exist_ok=True)

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def start(self, name: str, argv: list[str] | None = None, env: dict | None = None) -> subprocess.Popen:
        argv = argv or self.commands[name]
        log = open(self.log_path(name), "ab")
        proc = subprocess.Popen(argv, cwd=ROOT, env={**self.env, **(env or {})}, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[name] = proc
        return proc

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        proc = self.procs.pop(name, None)
        if proc is not None:
            self._end([proc], sig, timeout)

    def kill(self, name: str) -> None:
        self.stop(name, signal.SIGKILL)

    def start_all(self) -> None:
        for name in self.commands:
            self.start(name)

    def stop_all(self, timeout: float = 15) -> None:
        """SIGTERM to every process at once, then wait for them together: stopping one after
        another cost up to ``timeout`` each."""
        self._end([self.procs.pop(name) for name in list(self.procs)], signal.SIGTERM, timeout)

    @staticmethod
    def _end(procs: list[subprocess.Popen], sig: int, timeout: float) -> None:
        """Signal every running process group, then wait for all within ``timeout`` (SIGKILL after)."""
        running = [p for p in procs if p.poll() is None]
        for proc in running:
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        for proc in running:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)

    def wait_ready(self, timeout: float = 60, path: str = "/readyz?services=all") -> float:
        """Seconds until ``path`` answered 200; raises with the last answer on timeout."""
        started, last = time.monotonic(), None
        while time.monotonic() - started < timeout:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}; see {self.log_path(name)}")
            try:
                r = requests.get(self.base_url + path, timeout=5)
                if r.status_code == 200:
                    return time.monotonic() - started
                last = f"{r.status_code} {r.text[:300]}"
            except requests.RequestException as exc:
                last = repr(exc)
            time.sleep(0.3)
        raise TimeoutError(f"{path} not ready after {timeout}s: {last}")

    def wait_rpc(self, rpc, service: str, timeout: float = 30) -> None:
        """Wait until ``service`` answers ``health`` through the proxy ``rpc``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                getattr(rpc, service).health()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{service} never answered: {self.logs(service)[-3000:]}")
                time.sleep(0.3)

    def logs(self, name: str) -> str:
        path = self.log_path(name)
        return path.read_text(errors="replace") if path.exists() else ""
