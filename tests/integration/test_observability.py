"""Operators can see and mend the running system: one trace across the bus, metrics of every instance
off the public port, parked events replayed after a fix, retention that keeps the dedupe window.

One system of its own (own vhost and databases): every service with its OPS_PORT, spans written by
each process to TRACING_SPANS_DIR, two handler attempts before an event is parked, the retention
timer every second."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from chassis.bus import ConfirmingPublisher
from chassis.settings import SERVICES
from chassis.workdays import local_today
from tests.support.samples import FULL_NOTICE, draft_body
from tests.support.api import dev_login
from tests.support.cluster import ROOT, Cluster
from tests.support.world import free_port, migrate

pytestmark = pytest.mark.system
CLEAN = "Прошу відремонтувати дорогу біля школи до вересня, там небезпечно."


class System:
    def __init__(self, env, cluster: Cluster, ports: dict[str, int], spans_dir: Path, metrics_port: int):
        self.env, self.cluster, self.ports, self.spans_dir = env, cluster, ports, spans_dir
        self.metrics_port = metrics_port
        self.base_url = cluster.base_url

    def metrics(self, service: str) -> dict[tuple[str, tuple], float]:
        port = self.metrics_port if service == "gateway" else self.ports[service]
        body = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for fam in text_string_to_metric_families(body) for s in fam.samples}

    def value(self, service: str, name: str, **labels) -> float:
        """Sum of the samples of ``name`` whose labels include ``labels``."""
        return sum(v for (n, ls), v in self.metrics(service).items()
                   if n == name and set(labels.items()) <= set(ls))

    def spans(self) -> list[dict]:
        out = []
        for path in self.spans_dir.glob("*.jsonl"):
            component = path.name.rsplit("-", 1)[0]
            for line in path.read_text().splitlines():
                if line.strip():
                    out.append({**json.loads(line), "component": component})
        return out

    def engine(self, service: str):
        return create_engine(self.env.settings().service_db_url(service))

    def cli(self, *argv: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, env=self.env.vars, input=stdin,
                              capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def observed(make_env, tmp_path_factory):
    spans_dir = tmp_path_factory.mktemp("spans")
    metrics_port = free_port()
    env = make_env(TRACING_SPANS_DIR=str(spans_dir), GATEWAY_METRICS_PORT=metrics_port, EVENT_MAX_ATTEMPTS=2,
                   RETENTION_INTERVAL_SECONDS=1, RETENTION_DAYS=30, RETENTION_BATCH=2)
    try:
        migrate(env)
    except subprocess.CalledProcessError as e:
        raise RuntimeError(e.stderr[-3000:])
    cluster = Cluster(env.vars, ROOT / "var" / "test-logs" / env.run_id, env.base_url)
    ports = {s: free_port() for s in SERVICES}
    for name in cluster.commands:
        cluster.start(name, env={"OPS_PORT": str(ports[name])} if name in ports else None)
    try:
        cluster.wait_ready(90)
        yield System(env, cluster, ports, spans_dir, metrics_port)
    finally:
        cluster.stop_all()


@pytest.fixture(scope="module")
def consultation(observed):
    base = observed.base_url
    official = dev_login(base, ["official"], unit="Управління з трасування", full_name="Власниця Трасування")
    body = draft_body(notice=FULL_NOTICE, starts_on=local_today().isoformat(),
                      ends_on=(local_today() + timedelta(days=15)).isoformat(), title="Дорога біля школи")
    cid = official.post("/api/v1/consultations", json=body).json()["id"]
    assert official.post(f"/api/v1/consultations/{cid}/publish").status_code == 200
    return cid


def eventually(check, seconds: float = 20):
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def public(observed, cid, comment_id) -> bool:
    items = requests.get(f"{observed.base_url}/api/v1/consultations/{cid}/comments", timeout=5).json()["items"]
    return any(c["id"] == comment_id for c in items)


def comment(observed, cid, body=CLEAN):
    resident = dev_login(observed.base_url, full_name="Мешканка Трасування")
    r = resident.post(f"/api/v1/consultations/{cid}/comments", json={"body": body})
    assert r.status_code in (200, 201), r.text
    return r


def test_a_comment_is_one_trace_from_the_gateway_through_the_outbox_to_moderation(observed, consultation):
    r = comment(observed, consultation)
    cid = r.json()["id"]
    assert eventually(lambda: public(observed, consultation, cid))
    request_id = r.headers["X-Request-ID"]

    def whole_trace():
        spans = observed.spans()
        roots = [s for s in spans if s["component"] == "gateway" and s["kind"] == "SpanKind.SERVER"
                 and s["attributes"].get("http.route", "").endswith("/comments")
                 and s["attributes"].get("http.request.method", s["attributes"].get("http.method")) == "POST"]
        if not roots:
            return None
        trace_id = roots[-1]["context"]["trace_id"]
        mine = [s for s in spans if s["context"]["trace_id"] == trace_id]
        names = {s["name"] for s in mine}
        ids = {s["context"]["span_id"] for s in mine}
        complete = all(s["parent_id"] is None or s["parent_id"] in ids for s in mine)  # every span exported
        return mine if complete and {"moderation.on_comment_submitted",
                                     "consultations.events publish comment_published"} <= names else None

    trace = eventually(whole_trace)
    assert trace, sorted({s["name"] for s in observed.spans()})
    by_id = {s["context"]["span_id"]: s for s in trace}
    names = {s["name"] for s in trace}
    assert {"registry.resolve_session", "consultations.add_comment",
            "consultations.events publish comment_submitted", "moderation.on_comment_submitted",
            "consultations.events publish comment_published"} <= names, names
    # screened and published where it is written: no approval round trip through moderation
    assert not {"moderation.events publish comment_approved", "consultations.on_comment_approved"} & names
    assert {"gateway", "registry", "consultations", "moderation"} <= {s["component"] for s in trace}
    assert any(s["attributes"].get("db.system") == "postgresql" for s in trace)  # SQL statements
    roots = [s for s in trace if s["parent_id"] is None]
    assert len(roots) == 1 and roots[0]["component"] == "gateway"
    for s in trace:  # every other span hangs on a span of the same trace
        assert s["parent_id"] is None or s["parent_id"] in by_id, s["name"]

    def parent(name, kind=None):
        span = next(s for s in trace if s["name"] == name and kind in (None, s["kind"]))
        return by_id[span["parent_id"]]

    server = parent("consultations.add_comment", "SpanKind.SERVER")  # the gateway's client span
    assert server["name"] == "consultations.add_comment" and server["component"] == "gateway"
    assert parent("consultations.add_comment", "SpanKind.CLIENT") == roots[0]
    assert parent("consultations.events publish comment_submitted")["kind"] == "SpanKind.SERVER"
    assert parent("moderation.on_comment_submitted")["name"] == "consultations.events publish comment_submitted"
    assert parent("consultations.events publish comment_published")["kind"] == "SpanKind.SERVER"

    # readiness probes (health, every few seconds) and the relay's idle polling make no traces
    everything = observed.spans()
    assert not [s["name"] for s in everything if s["name"].endswith(".health")]
    assert not [s for s in everything if s["parent_id"] is None and s["attributes"].get("db.system")]

    # the request id is logged with the trace id beside it, in the gateway and in the services
    trace_id = roots[0]["context"]["trace_id"].removeprefix("0x")
    for name in ("gateway", "consultations", "moderation"):
        lines = [json.loads(line) for line in observed.cluster.log_path(name).read_text().splitlines()
                 if line.startswith("{") and request_id in line]
        assert lines and all(line["trace_id"] == trace_id for line in lines), name


def test_every_instance_exports_its_metrics_off_the_public_port(observed, consultation):
    cid = comment(observed, consultation).json()["id"]
    assert eventually(lambda: public(observed, consultation, cid))
    v = observed.value
    assert v("consultations", "econsult_rpc_server_duration_seconds_count", method="add_comment", outcome="ok") >= 1
    assert v("registry", "econsult_rpc_server_duration_seconds_count", method="resolve_session") >= 1
    assert v("moderation", "econsult_event_handling_duration_seconds_count", handler="on_comment_submitted",
             outcome="ok") >= 1
    assert v("consultations", "econsult_outbox_publish_duration_seconds_count") >= 1
    assert v("consultations", "econsult_outbox_published_total") >= 1
    assert eventually(lambda: v("consultations", "econsult_timer_duration_seconds_count", timer="move_on_dates",
                                outcome="ok") >= 1)
    assert v("consultations", "econsult_timer_last_success_timestamp_seconds", timer="move_on_dates") > time.time() - 30
    assert v("consultations", "econsult_timer_interval_seconds", timer="move_on_dates") == 1
    assert v("consultations", "econsult_consultations", status="active") >= 1
    samples = observed.metrics("consultations")
    for name in ("econsult_outbox_waiting", "econsult_outbox_oldest_age_seconds", "econsult_db_pool_in_use",
                 "econsult_deadlines_overdue", "econsult_db_pool_checkout_duration_seconds_count"):
        assert any(n == name for n, _ in samples), name
    assert any(n == "econsult_moderation_cases_open" for n, _ in observed.metrics("moderation"))
    assert any(n == "econsult_notifications_deliveries" for n, _ in observed.metrics("notifications"))
    assert any(n == "econsult_reports_render_requests_waiting" for n, _ in observed.metrics("reports"))
    # the gateway: every worker summed by the master on GATEWAY_METRICS_PORT, nothing on the public port
    assert v("gateway", "gateway_http_requests_total", route="/api/v1/consultations/<uuid:consultation_id>/comments",
             method="POST") >= 1
    assert any(n == "gateway_http_in_flight_requests" for n, _ in observed.metrics("gateway"))
    assert v("gateway", "gateway_rpc_pool_borrow_duration_seconds_count") >= 1
    assert requests.get(observed.base_url + "/metrics", timeout=5).status_code == 404


def test_a_poison_event_is_parked_listed_then_replayed_after_the_fix(observed, consultation):
    moderation = observed.engine("moderation")
    try:
        with moderation.begin() as conn:  # a broken release: the handler's table is missing
            conn.execute(text("ALTER TABLE screenings RENAME TO screenings_away"))
        cid = comment(observed, consultation).json()["id"]
        queue = "evt-consultations-comment_submitted--moderation.on_comment_submitted"

        def parked():
            out = observed.cli("chassis.dlq", "list", "--queue", "moderation.on_comment_submitted", "--since", "10m")
            assert out.returncode == 0, out.stderr
            return [json.loads(line) for line in out.stdout.splitlines()]

        listed = eventually(parked, 30)
        assert len(listed) == 1 and listed[0]["queue"] == queue and listed[0]["type"] == "comment_submitted"
        assert "UndefinedTable" in listed[0]["error"] or "screenings" in listed[0]["error"]
        assert listed[0]["attempts"] == 2
        assert observed.value("moderation", "econsult_event_dead_lettered_total", queue=queue) >= 1
        assert observed.value("moderation", "econsult_event_retries_total", queue=queue, reason="failure") >= 1
        shown = observed.cli("chassis.dlq", "show", "--id", listed[0]["message_id"])
        assert shown.returncode == 0 and cid in shown.stdout
        assert parked() == listed  # reading does not take them away

        def recorded() -> int:  # moderation's record of the comment's screening
            with moderation.begin() as conn:
                return conn.execute(text("SELECT count(*) FROM screenings WHERE subject_id = :c"),
                                    {"c": cid}).scalar_one()

        with moderation.begin() as conn:  # the fix
            conn.execute(text("ALTER TABLE screenings_away RENAME TO screenings"))
        assert recorded() == 0  # the parked event has not been handled
        replayed = observed.cli("chassis.dlq", "replay", "--queue", queue)
        assert replayed.returncode == 0 and "1 replayed" in replayed.stderr, replayed.stderr
        assert eventually(lambda: recorded() == 1)
        assert parked() == []
    finally:
        with moderation.begin() as conn:
            conn.execute(text("DO $$ BEGIN IF to_regclass('screenings_away') IS NOT NULL THEN "
                              "ALTER TABLE screenings_away RENAME TO screenings; END IF; END $$"))
        moderation.dispose()


def test_purge_asks_for_confirmation(observed):
    queue = "evt-consultations-comment_submitted--moderation.on_comment_submitted"
    publisher = ConfirmingPublisher(observed.env.vars["AMQP_URI"])
    try:
        publisher.publish({"not": "an envelope"}, exchange="", routing_key=queue + ".dead",
                          headers={"x-econsult-error": "ValidationError: test"}, message_id="poison-1")
    finally:
        publisher.close()
    refused = observed.cli("chassis.dlq", "purge", "--queue", queue, stdin="no\n")
    assert refused.returncode == 1 and "not purged" in refused.stderr
    assert "poison-1" in observed.cli("chassis.dlq", "list", "--queue", queue).stdout
    done = observed.cli("chassis.dlq", "purge", "--queue", queue, stdin="1\n")
    assert done.returncode == 0 and "1 purged" in done.stderr
    assert "poison-1" not in observed.cli("chassis.dlq", "list", "--queue", queue).stdout


def test_retention_prunes_old_rows_and_a_redelivery_inside_the_window_is_not_handled_twice(observed, consultation):
    cid = comment(observed, consultation).json()["id"]
    assert eventually(lambda: public(observed, consultation, cid))
    consultations, moderation = observed.engine("consultations"), observed.engine("moderation")
    handler = "moderation.on_comment_submitted"
    try:
        with consultations.begin() as conn:
            # the version moderation takes (version 1 goes out beside it, acknowledged unhandled there)
            row = conn.execute(text("SELECT event_id, envelope FROM outbox WHERE type = 'comment_submitted' "
                                    "AND envelope -> 'data' ->> 'comment_id' = :c AND envelope ->> 'version' = '2'"),
                               {"c": cid}).one()
            conn.execute(text("UPDATE outbox SET created_at = now() - interval '41 days', "
                              "published_at = now() - interval '40 days' WHERE event_id <> :e AND published_at "
                              "IS NOT NULL"), {"e": row.event_id})
            old_sent = conn.execute(text("SELECT count(*) FROM outbox WHERE published_at < now() - interval "
                                         "'30 days'")).scalar_one()
        with moderation.begin() as conn:  # this event was handled 10 days ago; others 40 days ago
            conn.execute(text("UPDATE processed_events SET handled_at = now() - interval '40 days' "
                              "WHERE event_id <> :e"), {"e": row.event_id})
            conn.execute(text("INSERT INTO processed_events (handler, event_id, handled_at) SELECT :h, "
                              "gen_random_uuid(), now() - interval '40 days' FROM generate_series(1, 3)"),
                         {"h": handler})
            conn.execute(text("UPDATE processed_events SET handled_at = now() - interval '10 days' "
                              "WHERE event_id = :e"), {"e": row.event_id})
            old_keys = conn.execute(text("SELECT count(*) FROM processed_events WHERE handled_at < now() - "
                                         "interval '30 days'")).scalar_one()
        assert old_sent >= 1 and old_keys >= 3  # keys: more than one batch of 2

        def pruned():
            with consultations.connect() as c1, moderation.connect() as c2:
                return (c1.execute(text("SELECT count(*) FROM outbox WHERE published_at < now() - interval "
                                        "'30 days'")).scalar_one() == 0
                        and c2.execute(text("SELECT count(*) FROM processed_events WHERE handled_at < now() - "
                                            "interval '30 days'")).scalar_one() == 0)

        assert eventually(pruned, 20)
        assert observed.value("moderation", "econsult_retention_pruned_rows_total", table="processed_events") >= old_keys

        # the broker redelivers the 10-day-old event: its key is still there, so nothing happens twice
        before = observed.value("moderation", "econsult_event_handling_duration_seconds_count",
                                handler="on_comment_submitted", outcome="ok")
        envelope = {k: v for k, v in row.envelope.items() if not k.startswith("_")}
        publisher = ConfirmingPublisher(observed.env.vars["AMQP_URI"])
        try:
            publisher.publish(envelope, exchange="consultations.events", routing_key="comment_submitted",
                              message_id=str(row.event_id))
        finally:
            publisher.close()
        assert eventually(lambda: observed.value("moderation", "econsult_event_handling_duration_seconds_count",
                                                 handler="on_comment_submitted", outcome="ok") > before)
        with moderation.connect() as conn:
            screened = conn.execute(text("SELECT count(*) FROM screenings WHERE subject_id = :c"),
                                    {"c": cid}).scalar_one()
            kept = conn.execute(text("SELECT count(*) FROM processed_events WHERE handler = :h AND event_id = :e"),
                                {"h": handler, "e": row.event_id}).scalar_one()
        assert screened == 1 and kept == 1
        status = observed.cli("chassis.outbox", "status", "--service", "consultations")
        assert status.returncode == 0 and json.loads(status.stdout)["status"]["waiting"] == 0
        stuck = observed.cli("chassis.outbox", "stuck", "--service", "consultations")
        assert stuck.returncode == 0 and json.loads(stuck.stdout)["stuck"] == []
    finally:
        consultations.dispose()
        moderation.dispose()
