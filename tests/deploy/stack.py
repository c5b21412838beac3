"""The operator's path, driven by the deployment test: local images on a debootstrap base, then
docker-compose.yml run by podman-compose with them.

podman 4.3 (Debian bookworm) runs container health checks from systemd timers and cannot wait for
``condition: service_healthy`` (podman-compose says so and skips the wait), and there is no systemd
here. So this module does what the engine's timer and compose's wait would: it runs each
container's own health check (``podman healthcheck run``) and brings the file up in the order its
``depends_on`` conditions describe. Every command and health check is the file's own.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTAINERS_CONF = ROOT / "deploy" / "podman" / "containers.conf"
BASE = "localhost/debian:bookworm"
IMAGES = {  # compose variable -> (tag, build directory)
    "BASE_IMAGE": ("localhost/econsult-python:bookworm", "deploy/images/python"),
    "POSTGRES_IMAGE": ("localhost/econsult-postgres:bookworm", "deploy/images/postgres"),
    "RABBITMQ_IMAGE": ("localhost/econsult-rabbitmq:bookworm", "deploy/images/rabbitmq"),
    "NGINX_IMAGE": ("localhost/econsult-nginx:bookworm", "deploy/images/nginx"),
}
APP_IMAGE = "localhost/econsult/app:0.1.0"
PHASES: list[tuple[str, float]] = []


@contextmanager
def phase(name: str):
    started = time.monotonic()
    yield
    took = time.monotonic() - started
    PHASES.append((name, took))
    print(f"deploy phase: {name}: {took:.1f} s", file=sys.stderr, flush=True)


def podman_env() -> dict:
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def podman(*args: str, check: bool = True, timeout: float = 1800, quiet: bool = False) -> subprocess.CompletedProcess:
    proc = subprocess.run(["podman", *args], env=podman_env(), capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n"
                           f"{proc.stderr[-3000:]}")
    return proc


def require_podman() -> None:
    """Fail loudly (never skip) when containers cannot run here."""
    if shutil.which("podman") is None:
        raise RuntimeError("podman is not installed: .ci/run installs podman, runc, "
                           "golang-github-containernetworking-plugin-dnsname and debootstrap")
    podman("info", timeout=120)


def image_exists(ref: str) -> bool:
    return podman("image", "exists", ref, check=False).returncode == 0


def build_base() -> None:
    """A Debian bookworm root file system from debootstrap, imported as localhost/debian:bookworm."""
    if image_exists(BASE):
        return
    with tempfile.TemporaryDirectory(prefix="econsult-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        subprocess.run(["debootstrap", "--variant=minbase", "bookworm", str(rootfs), "http://deb.debian.org/debian"],
                       check=True, capture_output=True, timeout=1200)
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for f in (rootfs / junk).glob("*"):
                if f.is_file():
                    f.unlink()
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(["podman", "import", "-q", "-", BASE], stdin=tar.stdout, env=podman_env(), check=True,
                       capture_output=True, timeout=600)
        tar.wait()


def build_images() -> None:
    """The four stand-ins for the official images, then the application image on the Python one.
    The layer cache makes a second run quick; a changed file rebuilds from its layer on. The
    Python → application chain and the three infrastructure images build side by side (mostly
    downloads)."""
    def build(var: str) -> None:
        tag, directory = IMAGES[var]
        with tempfile.TemporaryDirectory(prefix="econsult-ctx-") as ctx:
            shutil.copytree(ROOT / directory, ctx, dirs_exist_ok=True)
            if var == "BASE_IMAGE":  # the site's extra certificate authorities (a TLS-inspecting proxy)
                for crt in Path("/usr/local/share/ca-certificates").glob("*.crt"):
                    shutil.copy(crt, Path(ctx) / "ca" / crt.name)
            podman("build", "-q", "--build-arg", f"BASE={BASE}", "-t", tag, ctx)

    def app_chain() -> None:
        build("BASE_IMAGE")
        podman("build", "-q", "--build-arg", f"BASE_IMAGE={IMAGES['BASE_IMAGE'][0]}", "-t", APP_IMAGE,
               "-f", str(ROOT / "deploy" / "Dockerfile"), str(ROOT))

    def infrastructure() -> None:
        for var in ("POSTGRES_IMAGE", "RABBITMQ_IMAGE", "NGINX_IMAGE"):
            build(var)

    with ThreadPoolExecutor(2) as ex:
        for job in [ex.submit(app_chain), ex.submit(infrastructure)]:
            job.result()


def image_size(ref: str) -> int:
    return int(json.loads(podman("image", "inspect", ref).stdout)[0]["Size"])


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    """One compose project from docker-compose.yml with production settings and local images."""

    def __init__(self, community_code: str):
        self.project = f"econsult-deploytest-{secrets.token_hex(3)}"
        self.front_port, self.idp_port = free_port(), free_port()
        self.base_url = f"http://127.0.0.1:{self.front_port}"
        self.idp_url = f"http://127.0.0.1:{self.idp_port}"
        self.postgres_password = secrets.token_hex(16)
        self.vars = {
            "SECRET_KEY": secrets.token_hex(32), "POSTGRES_PASSWORD": self.postgres_password,
            "RABBITMQ_PASSWORD": secrets.token_hex(16), "PUBLIC_URL": self.base_url,
            "COMMUNITY_CODE": community_code, "FRONT_BIND": "127.0.0.1", "FRONT_PORT": str(self.front_port),
            "IDP_PORT": str(self.idp_port),
            "SMTP_HOST": "mailcatcher", "SMTP_PORT": "1025", "SMTP_TLS": "none",
            "SMTP_FROM": "Електронні консультації <noreply@example.org>",
            "OAUTH_CLIENT_ID": "econsult-test", "OAUTH_CLIENT_SECRET": "s3cret-for-tests",
            "OAUTH_AUTHORIZE_URL": f"{self.idp_url}/authorize",
            "OAUTH_TOKEN_URL": "http://idp:9400/get-access-token",
            "OAUTH_USERINFO_URL": "http://idp:9400/get-user-info",
            "APP_IMAGE": APP_IMAGE, **{var: tag for var, (tag, _) in IMAGES.items()},
        }

    def compose(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "podman_compose", "-p", self.project, "-f", str(ROOT / "docker-compose.yml"),
               "--profile", "dev", "--profile", "test", *args]
        proc = subprocess.run(cmd, cwd=ROOT, env={**podman_env(), **self.vars}, capture_output=True, text=True,
                              timeout=timeout)
        if check and proc.returncode != 0:
            raise RuntimeError(f"podman-compose {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return proc

    def containers(self, service: str | None = None, all_: bool = False) -> list[str]:
        args = ["ps", "--format", "json", "--filter", f"label=io.podman.compose.project={self.project}"]
        if service:
            args += ["--filter", f"label=com.docker.compose.service={service}"]
        rows = json.loads(podman(*args, *(["-a"] if all_ else [])).stdout or "[]")
        return sorted(r["Names"][0] for r in rows)

    def wait_healthy(self, names: list[str], timeout: float = 180) -> None:
        """Run each container's own health check until it passes (the engine's timer, see above)."""
        deadline = time.monotonic() + timeout
        pending = list(names)
        while pending:
            pending = [n for n in pending if podman("healthcheck", "run", n, check=False).returncode != 0]
            if not pending:
                return
            if time.monotonic() > deadline:
                logs = {n: podman("logs", "--tail", "30", n, check=False).stderr[-2000:] for n in pending}
                raise TimeoutError(f"never healthy: {pending}\n{logs}")
            time.sleep(1)

    def up(self, scale_consultations: int = 3) -> None:
        """The order docker-compose.yml's depends_on conditions describe."""
        self.compose("up", "-d", "--no-deps", "postgres", "rabbitmq", "mailcatcher", "idp")
        self.wait_healthy(self.containers("postgres") + self.containers("rabbitmq") + self.containers("mailcatcher"))
        self.compose("up", "-d", "--no-deps", "migrate")
        migrate = self.containers("migrate", all_=True)[0]
        code = podman("wait", migrate, timeout=300).stdout.strip()
        if code != "0":
            raise RuntimeError(f"migrate exited {code}: {podman('logs', migrate).stderr[-3000:]}")
        self.compose("up", "-d", "--no-deps", "--scale", f"consultations={scale_consultations}",
                     "consultations", "moderation", "notifications", "registry", "reports")
        self.wait_healthy([c for s in ("consultations", "moderation", "notifications", "registry", "reports")
                           for c in self.containers(s)])
        self.compose("up", "-d", "--no-deps", "gateway")
        self.wait_healthy(self.containers("gateway"))
        self.compose("up", "-d", "--no-deps", "front")
        self.wait_healthy(self.containers("front"))

    def exec(self, container: str, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
        return podman("exec", container, *cmd, check=check)

    def down(self) -> None:
        # podman-compose stops only the replicas the file declares: --remove-orphans takes the scaled ones
        self.compose("down", "-v", "--remove-orphans", "-t", "30", check=False, timeout=900)

    def leftovers(self) -> dict[str, list[str]]:
        label = f"label=io.podman.compose.project={self.project}"
        out = {
            "containers": podman("ps", "-a", "-q", "--filter", label).stdout.split(),
            "volumes": [v for v in podman("volume", "ls", "-q").stdout.split() if v.startswith(self.project)],
            "networks": [n for n in podman("network", "ls", "-q", "--format", "{{.Name}}").stdout.split()
                         if n.startswith(self.project)],
            "pods": [p for p in podman("pod", "ls", "--format", "{{.Name}}").stdout.split() if p.startswith(self.project)],
        }
        return {k: v for k, v in out.items() if v}
