"""deploy/k8s, checked offline: each overlay renders with kubectl's built-in Kustomize, every
object validates against the Kubernetes schemas (kubernetes-validate), the operators' objects
against deploy/k8s/operator-fields.yaml, and the manifests agree with docker-compose.yml, the
settings and the settings reference (docs/kubernetes.md)."""
from __future__ import annotations

import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from chassis.settings import SERVICES, Settings
from deploy.k8s import generate

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "production")
K8S_VERSION = "1.30.0"
OPERATOR_GROUPS = {"rabbitmq.com", "postgresql.cnpg.io", "keda.sh"}
OPERATOR_KINDS = {("rabbitmq.com/v1beta1", "RabbitmqCluster"), ("postgresql.cnpg.io/v1", "Cluster"),
                  ("postgresql.cnpg.io/v1", "Pooler"), ("keda.sh/v1alpha1", "ScaledObject"),
                  ("keda.sh/v1alpha1", "TriggerAuthentication")}


@lru_cache
def rendered(overlay: str) -> list[dict]:
    if shutil.which("kubectl") is None:
        pytest.fail("kubectl is needed to render deploy/k8s (its built-in Kustomize)")
    out = subprocess.run(["kubectl", "kustomize", str(K8S / "overlays" / overlay)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def objects(overlay: str, kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in rendered(overlay) if d["kind"] == kind}


def leaf_paths(value, prefix: str = ""):
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from leaf_paths(inner, f"{prefix}.{key}" if prefix else key)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for inner in value:
            yield from leaf_paths(inner, prefix + "[]")
    else:
        yield prefix, value


def test_base_services_file_is_what_the_generator_writes():
    assert (K8S / "base" / "services.yaml").read_text() == generate.render(), \
        "run `python -m deploy.k8s.generate` and commit deploy/k8s/base/services.yaml"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_and_every_core_object_validates(overlay):
    docs = rendered(overlay)
    assert docs
    errors = []
    for doc in docs:
        if doc["apiVersion"].split("/")[0] in OPERATOR_GROUPS:
            continue
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{doc['kind']}/{doc['metadata']['name']}: {exc.message} at {list(exc.path)}")
    assert not errors, "\n".join(errors)


def _field_table() -> dict[tuple[str, str], dict]:
    table = yaml.safe_load((K8S / "operator-fields.yaml").read_text())
    return {(row["apiVersion"], row["kind"]): row for row in table}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_operator_objects_set_only_fields_their_operators_document(overlay):
    table = _field_table()
    seen, errors = set(), []
    for doc in rendered(overlay):
        key = (doc["apiVersion"], doc["kind"])
        if doc["apiVersion"].split("/")[0] not in OPERATOR_GROUPS:
            continue
        if key not in table:
            errors.append(f"{doc['kind']} {doc['apiVersion']}: not in operator-fields.yaml")
            continue
        seen.add(key)
        fields = table[key]["fields"]
        free = [p[:-2] for p in fields if p.endswith(".*")]
        for path, value in leaf_paths(doc.get("spec", {}), "spec"):
            if any(path == f or path.startswith(f + ".") or path.startswith(f + "[]") for f in free):
                continue
            if path not in fields:
                errors.append(f"{doc['kind']}/{doc['metadata']['name']}: {path} is not a documented field")
            elif "values" in fields[path] and value not in fields[path]["values"]:
                errors.append(f"{doc['kind']}/{doc['metadata']['name']}: {path}={value!r} not in "
                              f"{fields[path]['values']}")
    assert not errors, "\n".join(errors)
    assert seen == {k for k in OPERATOR_KINDS if any((d["apiVersion"], d["kind"]) == k for d in rendered(overlay))}
    assert seen, "no operator object checked"


def test_production_runs_the_broker_and_database_from_their_operators():
    prod = rendered("production")
    rabbit = [d for d in prod if d["kind"] == "RabbitmqCluster"]
    assert len(rabbit) == 1 and rabbit[0]["spec"]["replicas"] == 3
    pg = [d for d in prod if d["kind"] == "Cluster"]
    assert len(pg) == 1 and pg[0]["spec"]["instances"] == 2, "1 primary + 1 replica"
    poolers = {d["spec"]["type"]: d for d in prod if d["kind"] == "Pooler"}
    assert set(poolers) == {"rw", "ro"}
    assert all(p["spec"]["pgbouncer"]["poolMode"] == "transaction" for p in poolers.values())
    assert all(p["spec"]["cluster"]["name"] == pg[0]["metadata"]["name"] for p in poolers.values())
    config = objects("production", "ConfigMap")["econsult-config"]["data"]
    assert config["QUEUE_TYPE"] == "quorum"
    # through PgBouncer in transaction mode: no per-connection startup option, no prepared statements
    assert config["DB_IDLE_IN_TRANSACTION_SECONDS"] == "0" and config["DB_PREPARED_STATEMENTS"] == "false"
    assert pg[0]["spec"]["postgresql"]["parameters"]["idle_in_transaction_session_timeout"]


def _container(deployment: dict) -> dict:
    return deployment["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_deployment_probes_limits_pdb_and_scaled_object(overlay, service):
    deployment = objects(overlay, "Deployment")[service]
    pod = deployment["spec"]["template"]["spec"]
    c = _container(deployment)
    assert c["command"] == ["python", "-m", "chassis.run", service]
    ops = {p["name"]: p["containerPort"] for p in c["ports"]}["ops"]
    for probe, path in (("startupProbe", "/livez"), ("livenessProbe", "/livez"), ("readinessProbe", "/readyz")):
        assert c[probe]["httpGet"]["path"] == path and c[probe]["httpGet"]["port"] in ("ops", ops)
    assert {"cpu", "memory"} <= set(c["resources"]["requests"]) and {"cpu", "memory"} <= set(c["resources"]["limits"])
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    grace = int(objects(overlay, "ConfigMap")["econsult-config"]["data"]["SHUTDOWN_GRACE_SECONDS"])
    assert pod["terminationGracePeriodSeconds"] > grace
    assert pod["serviceAccountName"] == service and service in objects(overlay, "ServiceAccount")
    pdb = objects(overlay, "PodDisruptionBudget")[service]
    assert pdb["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    scaled = objects(overlay, "ScaledObject")[service]
    assert scaled["spec"]["scaleTargetRef"]["name"] == service
    queues = [t["metadata"].get("queueName") for t in scaled["spec"]["triggers"]]
    assert f"rpc-{service}" in queues, "autoscaling on the service's own RPC queue"
    assert all(t["type"] != "cpu" for t in scaled["spec"]["triggers"]), "services scale on work, not CPU"
    env = {e["name"]: e for e in c["env"]}
    assert env["AMQP_URI"]["valueFrom"]["secretKeyRef"]["key"] == service, "one broker user per service"


def test_event_queues_and_due_deliveries_drive_autoscaling():
    from chassis.app import all_service_classes
    from chassis.topology import subscriptions_of

    for cls in all_service_classes():
        scaled = objects("production", "ScaledObject")[cls.name]
        queues = {t["metadata"].get("queueName") for t in scaled["spec"]["triggers"]}
        assert {b.queue for b in subscriptions_of(cls)} <= queues, cls.name
    triggers = objects("production", "ScaledObject")["notifications"]["spec"]["triggers"]
    due = [t for t in triggers if t["type"] == "postgresql"]
    assert due and "deliveries" in due[0]["metadata"]["query"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_gateway_scales_on_cpu_and_only_nginx_reaches_it(overlay):
    hpa = objects(overlay, "HorizontalPodAutoscaler")["gateway"]
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    policies = objects(overlay, "NetworkPolicy")
    assert policies["default-deny"]["spec"]["podSelector"] == {}
    assert set(policies["default-deny"]["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    sources = policies["gateway"]["spec"]["ingress"]
    assert [s["from"] for s in sources] == [[{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "nginx"}}}]]
    services = policies["services"]["spec"]
    assert "Ingress" in services["policyTypes"] and not services.get("ingress"), "services take no inbound traffic"
    ports = {p["port"] for rule in services["egress"] for p in rule["ports"]}
    assert ports == {5672, 5432, 25, 465, 587}, "RabbitMQ, PostgreSQL and SMTP only"
    for name in (*SERVICES, "gateway"):
        labels = objects(overlay, "Deployment")[name]["spec"]["template"]["metadata"]["labels"]
        assert any(_selects(p["spec"]["podSelector"], labels) for n, p in policies.items() if n != "default-deny"
                   and n != "dns"), f"{name}: no policy of its own"


def _selects(selector: dict, labels: dict) -> bool:
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    return all(labels.get(e["key"]) in e["values"] for e in selector.get("matchExpressions", []))


def test_migration_job_runs_migrations_and_topology_as_the_admin_user():
    job = objects("production", "Job")["econsult-migrate"]
    c = _container({"spec": {"template": job["spec"]["template"]}})
    assert c["command"][-1] == "python -m chassis.migrate && python -m chassis.topology"
    env = {e["name"]: e for e in c["env"]}
    assert env["AMQP_URI"]["valueFrom"]["secretKeyRef"]["key"] == "admin"


# ---- agreement with docker-compose.yml, the settings and docs/settings.md ----------

def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _default(value) -> str:
    """What compose makes of ``${NAME:-default}`` (or ``${NAME:?message}``: no default) when unset."""
    m = re.fullmatch(r"\$\{[A-Z0-9_]+(?::-(.*))?(?::\?.*)?\}", str(value))
    return (m.group(1) or "") if m else str(value)


def _readme_settings() -> set[str]:
    """Every variable the settings reference documents (Settings fields and those read outside it)."""
    return set(re.findall(r"`([A-Z][A-Z0-9_]+)`", (ROOT / "docs" / "settings.md").read_text()))


def _env_names(overlay: str) -> set[str]:
    names = set(objects(overlay, "ConfigMap")["econsult-config"]["data"])
    for d in objects(overlay, "Deployment").values():
        for c in d["spec"]["template"]["spec"]["containers"]:
            names |= {e["name"] for e in c.get("env", [])}
    return names


# Names another part of the system reads outside the Settings class (the containers work's
# graceful shutdown); each must also be documented somewhere a test reads.
OUTSIDE_SETTINGS = {"SHUTDOWN_GRACE_SECONDS"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_env_names_are_settings_fields_or_documented(overlay):
    fields = {name.upper() for name in Settings.model_fields}
    compose_env = set(_compose()["x-app"]["environment"])
    known = fields | _readme_settings() | compose_env | OUTSIDE_SETTINGS
    unknown = _env_names(overlay) - known
    assert not unknown, f"not a setting (chassis/settings.py) nor in docs/settings.md: {sorted(unknown)}"
    assert {"AMQP_URI", "DATABASE_URL"} <= _env_names(overlay)


def test_image_and_ports_agree_with_compose_and_settings():
    compose = _compose()
    images = {c["image"] for d in objects("production", "Deployment").values()
              for c in d["spec"]["template"]["spec"]["containers"] if c["name"] != "nginx"}
    images |= {_container({"spec": {"template": objects("production", "Job")["econsult-migrate"]["spec"]["template"]}})["image"]}
    assert images == {_default(compose["x-app"]["image"])}, f"manifests {images}, docker-compose.yml {compose['x-app']['image']}"
    version = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    assert images == {f"econsult/app:{version}"}
    gateway = objects("production", "Deployment")["gateway"]
    port = {p["name"]: p["containerPort"] for p in _container(gateway)["ports"]}["http"]
    assert port == Settings.model_fields["gateway_port"].default
    # compose publishes only nginx, which proxies to the gateway's port
    assert "ports" not in compose["services"]["gateway"]
    assert f"gateway:{port}" in (ROOT / "deploy" / "nginx" / "default.conf").read_text()
    config = objects("production", "ConfigMap")["econsult-config"]["data"]
    assert int(config["GATEWAY_PORT"]) == port and int(config["OPS_PORT"]) == generate.OPS_PORT
    compose_env = compose["x-app"]["environment"]
    for name in set(config) & set(compose_env):
        if name in {"OPS_PORT", "GATEWAY_PORT", "OPS_HOST", "SHUTDOWN_GRACE_SECONDS", "TZ", "AUTH_DEV_LOGIN",
                    "APP_ENV", "DB_POOL_SIZE", "DB_MAX_OVERFLOW"}:
            assert _default(compose_env[name]) == config[name], f"{name}: compose {compose_env[name]!r}, k8s {config[name]!r}"


def test_nginx_config_says_what_deploy_nginx_says():
    nginx_dir = ROOT / "deploy" / "nginx"
    if not nginx_dir.is_dir():
        pytest.skip("deploy/nginx/ is missing; nothing to compare")
    data = objects("production", "ConfigMap")["nginx-conf"]["data"]
    compared = [key for key in data if (nginx_dir / key).is_file()]
    assert compared, f"no file of deploy/nginx/ named like the ConfigMap's keys {sorted(data)}"

    def norm(text: str) -> list[str]:
        return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]

    for key in compared:
        assert norm(data[key]) == norm((nginx_dir / key).read_text()), f"{key} differs from deploy/nginx/{key}"
    listen = re.search(r"listen\s+(\d+)", data[compared[0]]).group(1)
    port = {p["name"]: p["containerPort"] for p in _container(objects("production", "Deployment")["nginx"])["ports"]}
    assert int(listen) == port["http"] == 8080


def test_connection_budget_fits_pgbouncer_and_max_connections():
    """Every service at its maximum replicas holds at most (DB_POOL_SIZE + DB_MAX_OVERFLOW + 1, the
    outbox relay's own) client connections to PgBouncer; PgBouncer holds at most instances × databases × default_pool_size
    server connections, under the server's max_connections with room for the operator, the
    replication and the migration job (docs/scaling.md, "Connection budget")."""
    config = objects("production", "ConfigMap")["econsult-config"]["data"]
    per_instance = Settings(db_pool_size=int(config["DB_POOL_SIZE"]),
                            db_max_overflow=int(config["DB_MAX_OVERFLOW"])).connections_per_instance
    replicas = sum(s["spec"]["maxReplicaCount"] for s in objects("production", "ScaledObject").values())
    rw = next(p for p in objects("production", "Pooler").values() if p["spec"]["type"] == "rw")
    params = rw["spec"]["pgbouncer"]["parameters"]
    assert replicas * per_instance <= int(params["max_client_conn"])
    server = rw["spec"]["instances"] * len(SERVICES) * int(params["default_pool_size"])
    cluster = next(iter(objects("production", "Cluster").values()))
    assert server + 10 <= int(cluster["spec"]["postgresql"]["parameters"]["max_connections"])
    print(f"clients {replicas} × {per_instance} = {replicas * per_instance}; server connections {server}")
