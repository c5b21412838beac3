"""The repository's nginx front (deploy/nginx/default.conf) run by Debian's nginx as a foreground
process with a temporary prefix, on a free loopback port, in front of a given gateway."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "deploy" / "nginx" / "default.conf"


def binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if not found:
        raise RuntimeError("nginx is not installed (apt-get install nginx; .ci/run installs it)")
    return found


def write_config(prefix: Path, port: int, upstream: str, workers: int = 1, conf: str | None = None) -> Path:
    """The deployed server block (or ``conf``, another version of it) with only its address, its
    upstream and its cache directory changed, inside a main configuration of its own under
    ``prefix``; returns the main file."""
    text = CONF.read_text() if conf is None else conf
    for old, new in (("server gateway:8000;", f"server {upstream};"),
                     ("listen 8080 default_server;", f"listen 127.0.0.1:{port} default_server;")):
        assert old in text, f"{old!r} is no longer in {CONF}"
        text = text.replace(old, new)
    assert conf is not None or "/tmp/nginx-econsult-cache" in text, f"the cache directory moved in {CONF}"
    text = text.replace("/tmp/nginx-econsult-cache", str(prefix / "cache"))
    (prefix / "default.conf").write_text(text)
    temp = "\n".join(f"    {kind}_temp_path {prefix / kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                                           "uwsgi", "scgi"))
    main = prefix / "nginx.conf"
    main.write_text(f"""user root;
worker_processes {workers};
daemon off;
pid {prefix / 'nginx.pid'};
error_log {prefix / 'error.log'} warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
{temp}
    include {prefix / 'default.conf'};
}}
""")
    return main


def check(prefix: Path, port: int = 8080, upstream: str = "127.0.0.1:9") -> subprocess.CompletedProcess:
    """``nginx -t`` on the deployed configuration."""
    main = write_config(prefix, port, upstream)
    return subprocess.run([binary(), "-t", "-p", str(prefix), "-c", str(main), "-e", str(prefix / "error.log")],
                          capture_output=True, text=True, timeout=30)


class Nginx:
    def __init__(self, port: int, upstream: str, workers: int = 1, conf: str | None = None):
        self.port, self.upstream, self.workers, self.conf = port, upstream, workers, conf
        self.prefix = Path(tempfile.mkdtemp(prefix="econsult-nginx-"))
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_path: str = "/healthz", timeout: float = 30) -> "Nginx":
        main = write_config(self.prefix, self.port, self.upstream, self.workers, self.conf)
        self.proc = subprocess.Popen([binary(), "-p", str(self.prefix), "-c", str(main),
                                      "-e", str(self.prefix / "error.log")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited: {(self.prefix / 'error.log').read_text()[-2000:]}")
            try:
                if requests.get(self.base_url + ready_path, timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise TimeoutError("nginx did not answer")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        shutil.rmtree(self.prefix, ignore_errors=True)

    def pids(self) -> list[int]:
        """The master and its workers (for CPU sampling)."""
        if self.proc is None:
            return []
        out = [self.proc.pid]
        try:
            out += [int(x) for x in Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()]
        except FileNotFoundError:
            pass
        return out
