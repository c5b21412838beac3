"""Partner systems over HTTP through the running gateway: API keys (hashed, scoped, rate-limited,
expiring, revocable) and the public event feed (cursor, ETag, Retry-After) — docs/webhooks.md,
docs/events.md."""
from __future__ import annotations

import time
import uuid
from datetime import date, datetime, timedelta, timezone

import psycopg
import pytest
import requests

from chassis.bus import ConfirmingPublisher, event_exchange
from chassis.events import make_envelope
from contracts.consultations import CommentPublished, DecisionPublished
from tests.support.api import dev_login
from tests.support.drills import wait_for

pytestmark = pytest.mark.system
ALL = ["events:read", "consultations:read", "open-data:read"]


@pytest.fixture(scope="module")
def admin(system):
    return dev_login(system.base_url, ["admin"], full_name="Адміністратор Партнерів Тестовий")


def issue(admin, **body) -> dict:
    r = admin.post("/api/v1/admin/api-keys", json={"partner": "Портал відкритих даних", "scopes": ALL, **body})
    assert r.status_code == 201, r.text
    return r.json()


def publish(env, n: int) -> list[str]:
    publisher = ConfirmingPublisher(env.amqp_uri)
    ids = []
    for i in range(n):
        cid = uuid.uuid4()
        data = DecisionPublished(consultation_id=cid, number=f"№ {i}", adopted_on=date(2026, 11, 30),
                                 title="Рішення про парк", url=f"https://rada.example/{cid}", on_time=True)
        envelope = make_envelope(data).model_dump(mode="json")
        publisher.publish(envelope, exchange=event_exchange("consultations"), routing_key="decision_published")
        ids.append(envelope["event_id"])
    publisher.close()
    return ids


def test_a_key_is_shown_once_stored_hashed_and_reads_only_its_scopes(system, env, admin):
    key = issue(admin, scopes=["open-data:read"])
    assert key["key"].startswith("ek_") and key["prefix"] == key["key"][:len(key["prefix"])]
    listed = admin.get("/api/v1/admin/api-keys").json()["items"]
    assert all("key" not in k for k in listed) and key["id"] in {k["id"] for k in listed}
    with psycopg.connect(f"{env.database_url}/{env.db_prefix}registry") as conn:
        stored = conn.execute("SELECT key_hash FROM api_keys WHERE id = %s", (key["id"],)).fetchone()[0]
    assert key["key"] not in stored and len(stored) == 64
    base = system.base_url
    assert requests.get(base + "/api/v1/open-data/consultations.json", headers={"X-Api-Key": key["key"]}).status_code == 200
    r = requests.get(base + "/api/v1/events", headers={"X-Api-Key": key["key"]})
    assert r.status_code == 403 and r.json()["code"] == "api_key_scope"
    r = requests.post(base + "/api/v1/organisations", json={"name": "x", "kind": "ngo"},
                      headers={"Authorization": f"Bearer {key['key']}"})
    assert r.status_code == 403 and r.json()["code"] == "api_key_not_for_this_route", "read scopes only"
    r = requests.get(base + "/api/v1/me", headers={"X-Api-Key": key["key"]})
    assert r.status_code == 403


def test_revoked_expired_and_unknown_keys_are_401(system, admin):
    base = system.base_url
    revoked = issue(admin)
    assert admin.delete(f"/api/v1/admin/api-keys/{revoked['id']}").json()["revoked_at"]
    soon = issue(admin, expires_at=(datetime.now(timezone.utc) + timedelta(seconds=2)).isoformat())
    assert requests.get(base + "/api/v1/categories", headers={"X-Api-Key": soon["key"]}).status_code == 200
    time.sleep(2.5)
    for k in (revoked["key"], soon["key"], "ek_00000000_" + "x" * 43):
        r = requests.get(base + "/api/v1/categories", headers={"X-Api-Key": k})
        assert r.status_code == 401 and r.json()["code"] == "api_key_invalid", r.text
    r = admin.post("/api/v1/admin/api-keys", json={"partner": "x y", "scopes": ["events:write"]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"].startswith("body.scopes")


def test_each_key_has_its_own_rate_limit_from_the_shared_counters(system, admin):
    base = system.base_url
    key, other = issue(admin, rate_per_minute=3), issue(admin, rate_per_minute=3)
    if time.time() % 60 > 45:  # the windows are whole minutes: all six requests inside one of them
        time.sleep(60.5 - time.time() % 60)
    codes = [requests.get(base + "/api/v1/categories", headers={"X-Api-Key": key["key"]}).status_code
             for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[3] == 429, codes
    r = requests.get(base + "/api/v1/categories", headers={"X-Api-Key": key["key"]})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert requests.get(base + "/api/v1/categories", headers={"X-Api-Key": other["key"]}).status_code == 200


def test_the_event_feed_pages_by_cursor_with_etag_and_retry_after(system, env, admin):
    base = system.base_url
    key = issue(admin, scopes=["events:read"])
    h = {"X-Api-Key": key["key"]}
    head = requests.get(base + "/api/v1/events", params={"limit": 1000}, headers=h).json()
    cursor = head["next_after"]
    while True:  # catch up with whatever other tests published
        page = requests.get(base + "/api/v1/events", params={"after": cursor, "limit": 1000}, headers=h).json()
        if not page["items"]:
            break
        cursor = page["next_after"]
    empty = requests.get(base + "/api/v1/events", params={"after": cursor}, headers=h)
    assert empty.status_code == 200 and empty.json() == {"items": [], "next_after": cursor}
    assert empty.headers["Retry-After"] == "5" and empty.headers.get("ETag")
    again = requests.get(base + "/api/v1/events", params={"after": cursor},
                         headers={**h, "If-None-Match": empty.headers["ETag"]})
    assert again.status_code == 304
    want = publish(env, 5)
    private = make_envelope(CommentPublished(comment_id=uuid.uuid4(), consultation_id=uuid.uuid4(),
                                             author_id=uuid.uuid4())).model_dump(mode="json")
    ConfirmingPublisher(env.amqp_uri).publish(private, exchange=event_exchange("consultations"),
                                              routing_key="comment_published")

    def fetched():
        r = requests.get(base + "/api/v1/events", params={"after": cursor, "types": "decision_published",
                                                           "limit": 3}, headers=h).json()
        return r if len(r["items"]) == 3 else None

    first = wait_for(fetched, 20)
    assert first, "events reach the feed"
    second = requests.get(base + "/api/v1/events", params={"after": first["next_after"],
                                                           "types": "decision_published"}, headers=h).json()
    items = first["items"] + second["items"]
    got = [e["id"] for e in items]
    # each once; the feed's order is the order events were recorded (cursors ascending, gap-free),
    # which need not be the order they were published in when consumers run in parallel
    assert sorted(got) == sorted(want) and len(set(got)) == len(got), "each once, by cursor"
    sequences = [int(e["sequence"]) for e in items]
    assert sequences == sorted(sequences)
    seqs = [int(e["sequence"]) for e in first["items"] + second["items"]]
    assert seqs == sorted(seqs) and first["next_after"] == seqs[2]
    event = first["items"][0]
    assert event["specversion"] == "1.0" and event["type"] == "ua.econsult.decision_published.v1"
    assert event["subject"].startswith("consultations/") and "author_id" not in str(first)
    comment = wait_for(lambda: [e for e in requests.get(base + "/api/v1/events", params={
        "after": cursor, "types": "comment_published.v2"}, headers=h).json()["items"]], 20)
    assert comment and "author_id" not in comment[0]["data"], "no person in a public event"
    r = requests.get(base + "/api/v1/events", params={"types": "person_registered"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.types"
    assert requests.get(base + "/api/v1/events").status_code == 401
    assert "/api/v1/events" in requests.get(base + "/openapi.json").json()["paths"]


def test_every_use_of_a_key_is_attributed_in_the_log_and_the_metrics_never_with_the_key(system, env, admin):
    from prometheus_client.parser import text_string_to_metric_families

    key = issue(admin)
    for route, headers in (("/api/v1/consultations", {"X-Api-Key": key["key"]}),
                           ("/api/v1/events", {"Authorization": f"Bearer {key['key']}"}),
                           ("/api/v1/events", {"X-Api-Key": key["key"]})):
        assert requests.get(system.base_url + route, headers=headers, timeout=10).status_code == 200

    def counted() -> dict[str, float]:
        body = requests.get(f"http://127.0.0.1:{env.vars['GATEWAY_METRICS_PORT']}/metrics", timeout=5).text
        return {s.labels["route"]: s.value for fam in text_string_to_metric_families(body) for s in fam.samples
                if s.name == "gateway_api_key_requests_total" and s.labels.get("key_id") == key["id"]}

    assert wait_for(lambda: counted() == {"/api/v1/consultations": 1.0, "/api/v1/events": 2.0}, 10), counted()
    import json

    def lines() -> list[dict]:
        out = []
        for line in system.logs("gateway").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    assert wait_for(lambda: len([r for r in lines() if r.get("api_key") == key["id"]]) == 3, 10)
    assert key["key"] not in system.logs("gateway")
