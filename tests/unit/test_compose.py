"""docker-compose.yml starts the same system as `make run`, production-shaped.
This reads the file; tests/deploy/ brings it up for real with podman."""
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
    expected = {*SERVICES, "gateway", "front", "mailcatcher", "postgres", "rabbitmq", "migrate"}
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


def test_only_nginx_publishes_a_port_and_the_gateway_waits_for_healthy_services():
    published = {name for name, svc in APPS.items() if svc.get("ports") and "test" not in svc.get("profiles", [])}
    assert published == {"front"}, f"only the nginx front may publish a port, not {sorted(published - {'front'})}"
    front = APPS["front"]
    assert any(v.endswith(":/etc/nginx/conf.d/default.conf:ro") for v in front["volumes"])
    assert "NGINX_IMAGE" in front["image"]
    gw = APPS["gateway"]
    assert gw["environment"]["FORWARDED_PROXIES"] == "1"
    assert "gateway/gunicorn.conf.py" in _command(gw) and (ROOT / "gateway" / "gunicorn.conf.py").exists()
    for name in SERVICES:
        assert gw.get("depends_on", {}).get(name, {}).get("condition") == "service_healthy", \
            f"gateway must wait for {name} to be healthy"
    assert gw["healthcheck"]["test"][-3:] == ["-m", "chassis.healthcheck", "gateway"]


def test_no_credentials_in_the_file_and_images_are_overridable():
    text = (ROOT / "docker-compose.yml").read_text()
    assert "guest:guest" not in text and "trust" not in text
    for var in ("POSTGRES_IMAGE", "RABBITMQ_IMAGE", "NGINX_IMAGE", "BASE_IMAGE"):
        assert "${" + var in text, f"{var} must be overridable"
    env = (ROOT / ".env.example").read_text()
    for var in ("SECRET_KEY=", "POSTGRES_PASSWORD=", "RABBITMQ_PASSWORD="):
        assert f"\n{var}\n" in env, f".env.example must leave {var} empty"


def test_durable_state_and_one_shared_file_store():
    assert APPS["rabbitmq"]["hostname"] == "rabbitmq"
    assert any(v.endswith(":/var/lib/rabbitmq") for v in APPS["rabbitmq"]["volumes"])
    assert any(v.endswith(":/var/lib/postgresql/data") for v in APPS["postgres"]["volumes"])
    assert "files:/files" in APPS["gateway"]["volumes"] and "files:/files" in APPS["reports"]["volumes"]
    for name in (*SERVICES, "gateway"):
        assert APPS[name]["stop_grace_period"] and APPS[name]["restart"] == "unless-stopped"
    assert APPS["mailcatcher"]["profiles"] == ["dev"] and APPS["idp"]["profiles"] == ["test"]


def test_nginx_body_limit_is_the_attachment_limit():
    from chassis.settings import Settings

    conf = (ROOT / "deploy" / "nginx" / "default.conf").read_text()
    mb = Settings().max_attachment_mb
    assert f"client_max_body_size {int(mb) + 1}m;" in conf
    assert APPS["gateway"]["environment"]["MAX_ATTACHMENT_MB"] == str(int(mb))
    for directive in ("proxy_request_buffering on", "client_header_timeout", "client_body_timeout",
                      "gzip on", "X-Forwarded-For", "X-Forwarded-Proto", "server gateway:8000", "listen 8080"):
        assert directive in conf, directive


def test_infrastructure_has_health_checks_and_migrations_run_once():
    assert APPS["postgres"]["healthcheck"]["test"]
    assert APPS["rabbitmq"]["healthcheck"]["test"]
    assert "chassis.migrate" in _command(APPS["migrate"]) and "chassis.topology" in _command(APPS["migrate"])
    assert APPS["migrate"].get("restart") == "no"


def test_images_and_commands_exist():
    dockerfile = ROOT / "deploy" / "Dockerfile"
    assert dockerfile.exists(), "deploy/Dockerfile is missing"
    text = dockerfile.read_text()
    assert "libpq5" in text, "Dockerfile: libpq5 (psycopg 3 needs libpq) not installed"
    final = text.rsplit("\nFROM ", 1)[1]
    assert "\nUSER " in final and "USER root" not in final, "the final stage must run as a non-root user"
    assert "requirements-dev" not in text and "pytest" not in text, "no test tools in the image"
    assert "PSYCOPG_WAIT_FUNC=wait_selector" in text, "Dockerfile: PSYCOPG_WAIT_FUNC=wait_selector not set"
    for name, svc in APPS.items():
        if "build" not in svc:
            continue
        assert svc["build"].get("dockerfile") == "deploy/Dockerfile", f"{name}: not built from deploy/Dockerfile"
        for var in ("AMQP_URI", "DATABASE_URL", "SMTP_HOST") if "profiles" not in svc else ():
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
