"""Writes ``deploy/k8s/base/services.yaml``: per service its ServiceAccount, Deployment,
PodDisruptionBudget and KEDA ScaledObject (docs/kubernetes.md).

Five near-identical blocks are made from one table here rather than copied by hand, and their event
queues come from the code's own subscriptions (``chassis.topology``), so a new subscription gets
its autoscaling trigger by re-running ``python -m deploy.k8s.generate``; a test fails while the
committed file differs from what this writes.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

BASE = Path(__file__).resolve().parent / "base"
IMAGE = "econsult/app:0.1.0"
OPS_PORT = 9100
SHUTDOWN_GRACE_SECONDS = 25
# above the service's own shutdown deadline, so the kubelet never SIGKILLs a draining instance
TERMINATION_GRACE_SECONDS = SHUTDOWN_GRACE_SECONDS + 15


@dataclass(frozen=True)
class Sizing:
    """Requests/limits and scaling bounds of one service (the reasons: docs/kubernetes.md)."""
    cpu: str
    memory: str
    cpu_limit: str
    memory_limit: str
    min_replicas: int
    max_replicas: int
    rpc_backlog: int      # ready RPC requests per replica before another replica starts
    event_backlog: int    # ready events per replica, per event queue


SIZING = {
    "consultations": Sizing("200m", "192Mi", "1", "512Mi", 2, 10, 10, 50),
    "moderation": Sizing("100m", "192Mi", "1", "512Mi", 1, 6, 10, 100),
    "notifications": Sizing("200m", "192Mi", "1", "512Mi", 1, 10, 10, 50),
    "registry": Sizing("200m", "192Mi", "1", "512Mi", 2, 10, 10, 50),
    "reports": Sizing("100m", "256Mi", "1", "1Gi", 1, 3, 5, 5),
}
FILE_WRITERS = {"reports"}
# notifications: pending e-mails already due, per replica (one instance sends ~90-130 a second)
NOTIFICATIONS_DUE_PER_REPLICA = 2000
DUE_DELIVERIES_SQL = ("SELECT count(*) FROM deliveries WHERE status = 'pending' "
                      "AND next_attempt_at <= now()")


def labels(name: str, component: str) -> dict:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "econsult",
            "app.kubernetes.io/component": component}


def probe(path: str, period: int, failures: int) -> dict:
    return {"httpGet": {"path": path, "port": "ops"}, "periodSeconds": period, "timeoutSeconds": 5,
            "failureThreshold": failures}


def security_context() -> dict:
    return {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]}}


POD_SECURITY = {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001,
                "seccompProfile": {"type": "RuntimeDefault"}}


def deployment(service: str, s: Sizing) -> dict:
    lab = labels(service, "service")
    container = {
        "name": service, "image": IMAGE, "command": ["python", "-m", "chassis.run", service],
        "ports": [{"name": "ops", "containerPort": OPS_PORT}],
        "envFrom": [{"configMapRef": {"name": "econsult-config"}}],
        "env": [
            {"name": "AMQP_URI", "valueFrom": {"secretKeyRef": {"name": "econsult-amqp", "key": service}}},
            {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "econsult-database", "key": "url"}}},
            {"name": "DATABASE_READ_URL", "valueFrom": {"secretKeyRef": {
                "name": "econsult-database", "key": "read-url", "optional": True}}},
            {"name": "SECRET_KEY", "valueFrom": {"secretKeyRef": {"name": "econsult-app", "key": "secret-key"}}},
            {"name": "SMTP_PASSWORD", "valueFrom": {"secretKeyRef": {
                "name": "econsult-app", "key": "smtp-password", "optional": True}}},
        ],
        "startupProbe": probe("/livez", 5, 24),
        "livenessProbe": probe("/livez", 10, 3),
        "readinessProbe": probe("/readyz", 10, 3),
        "resources": {"requests": {"cpu": s.cpu, "memory": s.memory},
                      "limits": {"cpu": s.cpu_limit, "memory": s.memory_limit}},
        "securityContext": security_context(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    volumes = [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}]
    if service in FILE_WRITERS:  # the published report files, read back by the gateway
        container["volumeMounts"].append({"name": "files", "mountPath": "/files"})
        volumes.append({"name": "files", "persistentVolumeClaim": {"claimName": "econsult-files"}})
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": service, "labels": lab},
        "spec": {  # no `replicas`: KEDA owns the count (an apply would otherwise reset it)
            "selector": {"matchLabels": {"app.kubernetes.io/name": service}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": lab},
                "spec": {
                    "serviceAccountName": service, "automountServiceAccountToken": False,
                    "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
                    "securityContext": POD_SECURITY,
                    "containers": [container],
                    "volumes": volumes,
                },
            },
        },
    }


def pdb(service: str) -> dict:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": service, "labels": labels(service, "service")},
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": service}}}}


def service_account(service: str) -> dict:
    return {"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": service, "labels": labels(service, "service")},
            "automountServiceAccountToken": False}


def rabbit_trigger(queue: str, backlog: int) -> dict:
    return {"type": "rabbitmq", "authenticationRef": {"name": "econsult-rabbitmq"},
            "metadata": {"protocol": "http", "mode": "QueueLength", "value": str(backlog),
                         "queueName": queue}}


def scaled_object(service: str, s: Sizing, event_queues: list[str]) -> dict:
    triggers = [rabbit_trigger(f"rpc-{service}", s.rpc_backlog)]
    triggers += [rabbit_trigger(q, s.event_backlog) for q in event_queues]
    if service == "notifications":
        triggers.append({"type": "postgresql", "authenticationRef": {"name": "econsult-notifications-db"},
                         "metadata": {"query": DUE_DELIVERIES_SQL,
                                      "targetQueryValue": str(NOTIFICATIONS_DUE_PER_REPLICA),
                                      "activationTargetQueryValue": "1"}})
    return {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
            "metadata": {"name": service, "labels": labels(service, "service")},
            "spec": {"scaleTargetRef": {"name": service}, "minReplicaCount": s.min_replicas,
                     "maxReplicaCount": s.max_replicas, "pollingInterval": 15, "cooldownPeriod": 300,
                     "advanced": {"horizontalPodAutoscalerConfig": {"behavior": {
                         "scaleDown": {"stabilizationWindowSeconds": 300,
                                       "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}}}},
                     "triggers": triggers}}


def event_queues() -> dict[str, list[str]]:
    from chassis.app import all_service_classes
    from chassis.topology import subscriptions_of

    return {cls.name: [b.queue for b in subscriptions_of(cls)] for cls in all_service_classes()}


def render() -> str:
    queues = event_queues()
    docs = []
    for service, sizing in SIZING.items():
        docs += [service_account(service), deployment(service, sizing), pdb(service),
                 scaled_object(service, sizing, queues.get(service, []))]
    header = "# Written by `python -m deploy.k8s.generate` (docs/kubernetes.md); do not edit by hand.\n"
    return header + yaml.safe_dump_all(docs, sort_keys=False, width=120)


def main() -> None:
    target = BASE / "services.yaml"
    target.write_text(render())
    print(f"wrote {target}", file=sys.stderr)


if __name__ == "__main__":
    main()
