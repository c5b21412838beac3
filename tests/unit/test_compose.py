"""`docker compose up` cannot run here (no Docker engine), so this test reads docker-compose.yml
and checks it starts the same system as `make run` (Foundation, item 5)."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chassis.settings import SERVICES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
APPS = COMPOSE["services"]


def _module_file(module: str) -> Path:
    return ROOT / (module.replace(".", "/") + ".py")


def _command(svc: dict) -> str:
    cmd = svc["command"]
    return " ".join(cmd) if isinstance(cmd, list) else cmd


def test_every_part_of_the_system_is_there():
    expected = {*SERVICES, "gateway", "mailcatcher", "postgres", "rabbitmq", "migrate"}
    assert expected <= set(APPS), f"missing: {sorted(expected - set(APPS))}"


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_is_its_own_scalable_compose_service(name):
    svc = APPS[name]
    assert _command(svc) == f"python -m chassis.run {name}"
    assert "container_name" not in svc, f"{name}: container_name prevents --scale"
    assert "ports" not in svc, f"{name}: a host port prevents --scale"
    deps = svc.get("depends_on", {})
    for dep, condition in (("migrate", "service_completed_successfully"),
                           ("rabbitmq", "service_healthy"), ("postgres", "service_healthy")):
        assert deps.get(dep, {}).get("condition") == condition, f"{name}: must wait for {dep} ({condition})"
    assert "healthcheck" in svc, f"{name}: no healthcheck (the gateway waits for it)"
    assert svc["healthcheck"]["test"][-3:] == ["-m", "chassis.healthcheck", name], \
        f"{name}: its health check must ask {name}"


def test_gateway_publishes_8000_and_waits_for_healthy_services():
    gw = APPS["gateway"]
    assert "8000:8000" in gw["ports"]
    assert "gateway/gunicorn.conf.py" in _command(gw) and (ROOT / "gateway" / "gunicorn.conf.py").exists()
    for name in SERVICES:
        assert gw.get("depends_on", {}).get(name, {}).get("condition") == "service_healthy", \
            f"gateway must wait for {name} to be healthy"
    assert "healthz" in " ".join(gw["healthcheck"]["test"])


def test_infrastructure_has_health_checks_and_migrations_run_once():
    assert APPS["postgres"]["healthcheck"]["test"]
    assert APPS["rabbitmq"]["healthcheck"]["test"]
    assert "management" in APPS["rabbitmq"]["image"]
    assert "chassis.migrate" in _command(APPS["migrate"]) and "chassis.topology" in _command(APPS["migrate"])
    assert APPS["migrate"].get("restart") == "no"


def test_images_and_commands_exist():
    dockerfile = ROOT / "deploy" / "Dockerfile"
    assert dockerfile.exists(), "deploy/Dockerfile is missing"
    text = dockerfile.read_text()
    assert "libpq5" in text, "Dockerfile: libpq5 (psycopg 3 needs libpq) not installed"
    assert "PSYCOPG_WAIT_FUNC=wait_selector" in text, "Dockerfile: PSYCOPG_WAIT_FUNC=wait_selector not set"
    for name, svc in APPS.items():
        if "build" not in svc:
            continue
        assert svc["build"].get("dockerfile") == "deploy/Dockerfile", f"{name}: not built from deploy/Dockerfile"
        for var in ("AMQP_URI", "DATABASE_URL", "SMTP_HOST"):
            assert var in svc.get("environment", {}), f"{name}: {var} missing from its environment"
        health = svc.get("healthcheck", {}).get("test", [])
        for line in (_command(svc), " ".join(health) if isinstance(health, list) else health):
            words = line.replace("&&", " ").split()
            for i, word in enumerate(words[:-1]):
                if word == "-m":
                    assert _module_file(words[i + 1]).exists(), f"{name}: no module {words[i + 1]}"


def test_procfile_and_compose_start_the_same_processes():
    procfile = dict(line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
    for name in SERVICES:
        assert procfile[name].strip() == _command(APPS[name])
    assert procfile["gateway"].strip() == _command(APPS["gateway"])
    assert procfile["mail"].strip() == _command(APPS["mailcatcher"])
