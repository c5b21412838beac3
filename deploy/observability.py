"""Writes the Grafana dashboards (deploy/grafana/*.json) and the Kubernetes PrometheusRule
(deploy/k8s/monitoring/prometheusrule.yaml, the groups of deploy/prometheus/alerts.yml).

``python -m deploy.observability`` after changing a panel or an alert; the suite checks that the
committed files equal what this writes, that they parse, and that every metric they name exists.
"""
from __future__ import annotations

import json
from pathlib import Path

import yaml

from chassis.settings import SERVICES

ROOT = Path(__file__).resolve().parents[1]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
RULE = ROOT / "deploy" / "k8s" / "monitoring" / "prometheusrule.yaml"
GRAFANA = ROOT / "deploy" / "grafana"


def p99(metric: str, by: str, where: str = "") -> str:
    return f"histogram_quantile(0.99, sum by ({by}, le) (rate({metric}_bucket{where}[5m])))"


def panel(title: str, exprs: list[tuple[str, str]], unit: str = "short", kind: str = "timeseries") -> dict:
    return {"type": kind, "title": title, "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "targets": [{"expr": expr, "legendFormat": legend, "refId": chr(65 + i)}
                        for i, (expr, legend) in enumerate(exprs)]}


def instance_panels(service: str) -> list[dict]:
    s = f'{{service="{service}"}}'
    return [
        panel("Ready instances", [(f"sum(econsult_instance_ready{s})", "ready")], kind="stat"),
        panel("RPC calls by method and outcome", [(f"sum by (method, outcome) "
              f"(rate(econsult_rpc_server_duration_seconds_count{s}[5m]))", "{{method}} {{outcome}}")], "reqps"),
        panel("RPC p99 by method", [(p99("econsult_rpc_server_duration_seconds", "method", s), "{{method}}")], "s"),
        panel("Events handled by handler and outcome", [(f"sum by (handler, outcome) "
              f"(rate(econsult_event_handling_duration_seconds_count{s}[5m]))", "{{handler}} {{outcome}}")], "ops"),
        panel("Event handling p99", [(p99("econsult_event_handling_duration_seconds", "handler", s), "{{handler}}")],
              "s"),
        panel("Retries and dead letters by queue", [
            (f'sum by (queue, reason) (increase(econsult_event_retries_total{{queue=~".*--{service}\\\\..*"}}[1h]))',
             "retry {{reason}} {{queue}}"),
            (f'sum by (queue) (increase(econsult_event_dead_lettered_total{{queue=~".*--{service}\\\\..*"}}[1h]))',
             "dead {{queue}}")]),
        panel("Outbox", [(f"max(econsult_outbox_waiting{s})", "waiting"),
                         (f"max(econsult_outbox_oldest_age_seconds{s})", "oldest age (s)")]),
        panel("Relay publish p99", [(p99("econsult_outbox_publish_duration_seconds", "service", s), "publish+confirm")],
              "s"),
        panel("Database pool", [(f"sum(econsult_db_pool_in_use{s})", "in use"),
                                (f"sum(rate(econsult_db_pool_waits_total{s}[5m]))", "waits/s"),
                                (p99("econsult_db_pool_checkout_duration_seconds", "service", s), "checkout p99 (s)")]),
        panel("Seconds since each timer last succeeded", [(f"time() - max by (timer) "
              f"(econsult_timer_last_success_timestamp_seconds{s})", "{{timer}}")], "s"),
        panel("Retention: rows pruned", [(f"sum by (table) (increase(econsult_retention_pruned_rows_total{s}[1d]))",
                                          "{{table}}")]),
    ]


DOMAIN = {
    "consultations": [
        panel("Consultations by status", [("max by (status) (econsult_consultations)", "{{status}}")]),
        panel("Deadlines overdue (R-3.10, R-3.17, R-3.18)", [("max by (kind) (econsult_deadlines_overdue)",
                                                              "{{kind}}")]),
    ],
    "moderation": [
        panel("Moderation cases", [("max(econsult_moderation_cases_open)", "open"),
                                   ("max(econsult_moderation_cases_overdue)", "overdue (R-3.10)")]),
    ],
    "notifications": [
        panel("Deliveries by status", [("max by (status) (econsult_notifications_deliveries)", "{{status}}")]),
        panel("E-mails by outcome", [("sum by (outcome) (rate(econsult_notifications_emails_total[5m]))",
                                      "{{outcome}}")], "ops"),
        panel("SMTP p99", [(p99("econsult_notifications_smtp_duration_seconds", "job"), "smtp")], "s"),
    ],
    "registry": [],
    "reports": [
        panel("Renders", [("sum(econsult_reports_renders_in_progress)", "in progress"),
                          ("max(econsult_reports_render_requests_waiting)", "waiting")]),
        panel("Render p99", [(p99("econsult_reports_render_duration_seconds", "job"), "render")], "s"),
    ],
}

GATEWAY = [
    panel("Requests by status", [("sum by (status) (rate(gateway_http_requests_total[5m]))", "{{status}}")], "reqps"),
    panel("p99 by route", [(p99("gateway_http_request_duration_seconds", "route"), "{{route}}")], "s"),
    panel("In flight per worker", [("sum by (pid) (gateway_http_in_flight_requests)", "worker {{pid}}")]),
    panel("RPC round trips p99 by service", [(p99("gateway_rpc_duration_seconds", "service"), "{{service}}")], "s"),
    panel("RPC outcomes", [("sum by (service, outcome) (rate(gateway_rpc_duration_seconds_count[5m]))",
                            "{{service}} {{outcome}}")], "reqps"),
    panel("RPC pool", [(p99("gateway_rpc_pool_borrow_duration_seconds", "job"), "borrow p99 (s)"),
                       ("sum(rate(gateway_rpc_pool_proxies_created_total[5m]))", "proxies created/s")]),
]

FLOW = [
    panel("Availability: share of requests without 5xx", [(
        'sum(rate(gateway_http_requests_total{status!~"5.."}[5m])) / sum(rate(gateway_http_requests_total[5m]))',
        "ok")], "percentunit"),
    panel("Comment: gateway POST p99", [(p99("gateway_http_request_duration_seconds", "route",
                                             '{method="POST",route=~".*/comments"}'), "{{route}}")], "s"),
    panel("Comment: consultations.add_comment p99", [(p99("econsult_rpc_server_duration_seconds", "method",
                                                          '{service="consultations",method="add_comment"}'),
                                                      "add_comment")], "s"),
    panel("Outbox oldest age by service", [("max by (service) (econsult_outbox_oldest_age_seconds)", "{{service}}")],
          "s"),
    panel("Comment: moderation then consultations handlers p99", [(
        p99("econsult_event_handling_duration_seconds", "service, handler",
            '{handler=~"on_comment_submitted|on_comment_approved|on_comment_rejected"}'),
        "{{service}}.{{handler}}")], "s"),
    panel("Queue depths (RabbitMQ)", [('sum by (queue) (rabbitmq_queue_messages_ready{queue=~"evt-.+"})',
                                       "{{queue}}")]),
    panel("Parked events (RabbitMQ)", [('sum by (queue) (rabbitmq_queue_messages{queue=~".+\\\\.dead"})',
                                        "{{queue}}")]),
    panel("Start-day e-mails", [("max by (status) (econsult_notifications_deliveries)", "{{status}}")]),
    panel("Reports waiting / rendering", [("max(econsult_reports_render_requests_waiting)", "waiting"),
                                          ("sum(econsult_reports_renders_in_progress)", "rendering")]),
    panel("Deadlines overdue", [("max by (kind) (econsult_deadlines_overdue)", "{{kind}}")]),
    panel("Instances ready", [("sum by (service) (econsult_instance_ready)", "{{service}}")]),
]


def dashboard(uid: str, title: str, panels: list[dict]) -> dict:
    laid = []
    for i, p in enumerate(panels):
        laid.append({**p, "id": i + 1, "gridPos": {"h": 8, "w": 12, "x": (i % 2) * 12, "y": (i // 2) * 8}})
    return {"uid": uid, "title": title, "tags": ["econsult"], "schemaVersion": 39, "version": 1,
            "time": {"from": "now-6h", "to": "now"}, "refresh": "30s",
            "templating": {"list": [{"name": "datasource", "type": "datasource", "query": "prometheus"}]},
            "panels": laid}


def dashboards() -> dict[str, dict]:
    out = {f"econsult-{s}.json": dashboard(f"econsult-{s}", f"e-consultations: {s}",
                                           instance_panels(s) + DOMAIN[s]) for s in SERVICES}
    out["econsult-gateway.json"] = dashboard("econsult-gateway", "e-consultations: gateway", GATEWAY)
    out["econsult-flow.json"] = dashboard("econsult-flow", "e-consultations: a comment's path and the SLOs", FLOW)
    return out


def prometheus_rule() -> dict:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
            "metadata": {"name": "econsult-alerts", "labels": {"app.kubernetes.io/part-of": "econsult",
                                                               "role": "alert-rules"}},
            "spec": {"groups": groups}}


def rendered() -> dict[Path, str]:
    files = {GRAFANA / name: json.dumps(d, ensure_ascii=False, indent=2) + "\n" for name, d in dashboards().items()}
    files[RULE] = ("# Generated by `python -m deploy.observability` from deploy/prometheus/alerts.yml: edit that.\n"
                   + yaml.safe_dump(prometheus_rule(), allow_unicode=True, sort_keys=False, width=120))
    return files


def main() -> None:
    for path, text in rendered().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
