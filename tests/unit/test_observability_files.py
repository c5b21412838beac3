"""The alerting rules, the PrometheusRule and the Grafana dashboards are valid files that name only
metrics the code exports (docs/observability.md)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import yaml

from deploy.observability import ALERTS, GRAFANA, RULE, SERVICES, rendered

# Names exported by others: RabbitMQ's rabbitmq_prometheus plugin (per-object metrics) and Prometheus.
EXTERNAL = {"rabbitmq_queue_messages", "rabbitmq_queue_messages_ready", "rabbitmq_identity_info", "up"}
PROMQL_WORDS = {"sum", "max", "min", "avg", "count", "rate", "increase", "delta", "by", "without", "time",
                "absent", "histogram_quantile", "clamp_min", "and", "or", "unless", "on", "ignoring", "le",
                "bool", "humanizePercentage", "humanizeDuration"}


def registered_names() -> set[str]:
    """Every sample name the services and the gateway register (histogram and counter suffixes too)."""
    from prometheus_client import REGISTRY

    import chassis.metrics as service_metrics
    import gateway.metrics  # noqa: F401
    import gateway.rpc  # noqa: F401

    names = set(REGISTRY._names_to_collectors)  # noqa: SLF001 (the registry's own index of names)
    for service in SERVICES:
        for family in service_metrics.ScrapeCollector(service, lambda: None).describe():
            names.add(family.name)
    return names


def metric_names(expr: str) -> set[str]:
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)          # label values
    expr = re.sub(r"\{[^}]*\}", "", expr)                    # matchers
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)  # grouping labels
    expr = re.sub(r"\[[^\]]*\]", "", expr)                   # ranges
    expr = re.sub(r"(?<![A-Za-z0-9_:])\d[\d.]*(?:e[+-]?\d+)?", "", expr)  # numbers (1e-9)
    return {t for t in re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", expr) if t not in PROMQL_WORDS}


def alert_rules() -> list[dict]:
    return [r for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]]


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool is missing: apt-get install prometheus (.ci/run installs it)"
    return path


def test_alert_rules_pass_promtool(tmp_path):
    out = subprocess.run([promtool(), "check", "rules", str(ALERTS)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    spec = tmp_path / "from-prometheusrule.yml"
    spec.write_text(yaml.safe_dump(yaml.safe_load(RULE.read_text().split("\n", 1)[1])["spec"]))
    out = subprocess.run([promtool(), "check", "rules", str(spec)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_alerts_the_slos_ask_for_are_there():
    by_name = {r["alert"]: r for r in alert_rules()}
    for name in ("DeadLetterAppeared", "OutboxStale", "TimerSilent", "DeliveriesFailing", "DeadlineOverdue",
                 "DecisionPublishedLate", "RpcLatencyOverBudget", "NoReadyInstance"):
        assert name in by_name, name
    assert "> 60" in by_name["OutboxStale"]["expr"] and "3 *" in by_name["TimerSilent"]["expr"]
    assert "0.05" in by_name["DeliveriesFailing"]["expr"]
    ready = {r["labels"]["service"] for r in alert_rules() if r["alert"] == "NoReadyInstance"}
    assert ready == set(SERVICES)
    assert any("rabbitmq_queue" in r["expr"] for r in alert_rules())  # queue depths from RabbitMQ itself


def expected_alert(name: str, **labels) -> dict:
    rule = next(r for r in alert_rules() if r["alert"] == name)
    fill = lambda text: re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], text)  # noqa: E731
    return {"exp_labels": {**rule["labels"], **labels},
            "exp_annotations": {k: fill(v) for k, v in rule["annotations"].items()}}


def test_alert_unit_tests_fire_as_the_slos_say(tmp_path):
    """promtool's rule unit tests: the outbox and timer alerts fire at their thresholds, not before; a
    one-second timer that succeeds every 30 s (runs outlasting the interval) does not alert."""
    tests = {"rule_files": [str(ALERTS)], "evaluation_interval": "30s", "tests": [{
        "interval": "30s",
        "input_series": [
            {"series": 'econsult_outbox_oldest_age_seconds{service="moderation",instance="a"}',
             "values": "0 30 61 91 121 151 181"},
            {"series": 'econsult_timer_last_success_timestamp_seconds{service="reports",timer="publish_queued"}',
             "values": "0 0 0 0 0 0 0 0 0 0 0 0"},
            {"series": 'econsult_timer_last_success_timestamp_seconds{service="notifications",timer="send_due"}',
             "values": "0 30 60 90 120 150 180 210 240 270 300 330"},
            {"series": 'econsult_timer_interval_seconds{service="notifications",timer="send_due"}',
             "values": "1 1 1 1 1 1 1 1 1 1 1 1"},
            {"series": 'econsult_timer_interval_seconds{service="reports",timer="publish_queued"}',
             "values": "30 30 30 30 30 30 30 30 30 30 30 30"},
        ],
        "alert_rule_test": [
            {"eval_time": "1m", "alertname": "OutboxStale", "exp_alerts": []},
            {"eval_time": "3m", "alertname": "OutboxStale", "exp_alerts": [
                expected_alert("OutboxStale", service="moderation")]},
            {"eval_time": "150s", "alertname": "TimerSilent", "exp_alerts": []},
            {"eval_time": "4m", "alertname": "TimerSilent", "exp_alerts": [
                expected_alert("TimerSilent", service="reports", timer="publish_queued")]},
        ]}]}
    path = tmp_path / "alerts_test.yml"
    path.write_text(yaml.safe_dump(tests))
    out = subprocess.run([promtool(), "test", "rules", str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_generated_files_are_committed_as_generated():
    for path, text in rendered().items():
        assert path.read_text() == text, f"{path.name}: run python -m deploy.observability"


def test_dashboards_parse_and_name_only_exported_metrics():
    known = registered_names() | EXTERNAL
    files = sorted(GRAFANA.glob("*.json"))
    assert {f.name for f in files} >= {f"econsult-{s}.json" for s in (*SERVICES, "gateway", "flow")}
    for f in files:
        board = json.loads(f.read_text())
        exprs = [t["expr"] for p in board["panels"] for t in p["targets"]]
        assert exprs, f.name
        for expr in exprs:
            unknown = metric_names(expr) - known
            assert not unknown, f"{f.name}: {expr} names {unknown}"


def test_alerts_name_only_exported_metrics():
    known = registered_names() | EXTERNAL
    for rule in alert_rules():
        unknown = metric_names(rule["expr"]) - known
        assert not unknown, f"{rule['alert']}: {unknown}"


@pytest.mark.parametrize("expr,names", [
    ('sum by (queue) (increase(econsult_event_dead_lettered_total{queue=~"x"}[10m])) > 0',
     {"econsult_event_dead_lettered_total"}),
    ("histogram_quantile(0.99, sum by (service, le) (rate(a_bucket[5m]))) > 1e-9", {"a_bucket"}),
])
def test_metric_names_are_read_from_promql(expr, names):
    assert metric_names(expr) == names
