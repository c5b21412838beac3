"""`make run` on this machine: migrates, starts everything under honcho, /readyz turns 200 within
60 s, and Ctrl-C (SIGINT to honcho) stops every process."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.support.cluster import ROOT

pytestmark = pytest.mark.system


def test_make_run_starts_everything_and_ctrl_c_stops_it(make_env):
    env = make_env()
    venv = Path(sys.executable).parent.parent
    base = f"http://127.0.0.1:{env.vars['GATEWAY_PORT']}"
    started = time.monotonic()
    proc = subprocess.Popen(["make", "--no-print-directory", "run", f"VENV={venv}"], cwd=ROOT,
                            env=env.vars, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    ready_after = None
    try:
        while time.monotonic() - started < 60:
            assert proc.poll() is None, proc.stdout.read().decode(errors="replace")[-3000:]
            try:
                if requests.get(base + "/readyz?services=all", timeout=5).status_code == 200:
                    ready_after = time.monotonic() - started
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        assert ready_after is not None, "/readyz did not turn 200 within 60 s of `make run`"
        print(f"make run: /readyz 200 after {ready_after:.1f} s")
        titles = [c["title"] for c in requests.get(base + "/api/v1/consultations", timeout=10).json()["items"]]
        assert any(t.startswith("Тарифи на проїзд") for t in titles), titles  # the demo set is loaded
        demo = requests.post(base + "/api/v1/auth/dev-login", timeout=10, json={
            "subject": "demo-official", "full_name": "Бондаренко Ігор Васильович", "roles": ["official"],
            "unit": "Управління транспорту"})
        assert demo.status_code == 200
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    text = out.decode(errors="replace")
    for name in ("consultations", "moderation", "notifications", "registry", "reports", "gateway", "mail"):
        assert f"{name}.1 stopped" in text, text[-2000:]
    with pytest.raises(requests.ConnectionError):
        requests.get(base + "/healthz", timeout=2)
    assert processes_with_env(f"DB_PREFIX={env.db_prefix}") == []


def processes_with_env(marker: str) -> list[int]:
    """PIDs whose environment contains ``marker`` (every process `make run` started has it)."""
    found, needle = [], marker.encode() + b"\0"
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if needle in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found
