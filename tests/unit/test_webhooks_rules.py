"""Rules of webhooks, the public feed and event versioning that need no running system
(docs/webhooks.md, docs/events.md)."""
from __future__ import annotations

import enum
import json
import random
import typing
import uuid
from datetime import date, datetime, timezone

import pytest
import yaml

from chassis import asyncapi, event_versions
from chassis.events import CATALOGUE, VERSIONS, EventData, event
from chassis.settings import Settings
from contracts import public_events
from services.notifications import webhook_domain, webhook_http, webhook_signing
from tests.support.webhook_receiver import verify

asyncapi.load_all_events()
OURS = {k: m for k, m in CATALOGUE.items() if k[0] in asyncapi.SERVICES}
# what identifies or describes a person: never in a public payload
PERSONAL = {"author_id", "author_name", "initiator_id", "person_id", "moderator_id", "granted_by",
            "revoked_by", "body", "note", "full_name", "email", "phone", "birth_date", "fields", "grounds"}


def sample(model) -> dict:
    """An instance of ``model`` whose every text value is marked, every id unique."""
    values = {}
    for name, f in model.model_fields.items():
        values[name] = _value(f.annotation, name)
    return model.model_construct(**values).model_dump(mode="json")


def _value(tp, name):
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return _value(next(a for a in args if a is not type(None)), name)
    if origin is list:
        return [_value(args[0], name)]
    if origin is dict:
        return {"html": f"MARK-{name}"}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return list(tp)[0]
    return {uuid.UUID: uuid.uuid4(), datetime: datetime(2026, 11, 30, tzinfo=timezone.utc), date: date(2026, 11, 30),
            int: 7, bool: True, str: f"MARK-{name}-{uuid.uuid4().hex[:6]}"}.get(tp, f"MARK-{name}")


def test_every_event_type_is_either_public_or_kept_inside_with_a_reason():
    assert set(OURS) == set(public_events.PUBLIC) | set(public_events.PRIVATE), \
        "classify each new event type in services/notifications/public_events.py"
    assert not set(public_events.PUBLIC) & set(public_events.PRIVATE)
    for key, fields in public_events.PUBLIC.items():
        assert set(fields) <= set(OURS[key].model_fields), (key, set(fields) - set(OURS[key].model_fields))


@pytest.mark.parametrize("key", sorted(OURS), ids=lambda k: ".".join(k))
def test_no_personal_data_leaves_in_any_event_type(key):
    """Over every event type of the catalogue: the webhook/feed body carries no field about a
    person and none of the personal values the event had."""
    data = sample(OURS[key])
    projected = public_events.project(*key, data)
    if key in public_events.PRIVATE:
        assert projected is None
        return
    assert not PERSONAL & set(projected), (key, PERSONAL & set(projected))
    body = json.dumps(public_events.cloudevent(
        event_id=uuid.uuid4(), source=key[0], event_type=key[1], version=1, occurred_at=datetime.now(timezone.utc),
        subject=public_events.subject_of(projected), data=projected, sequence=1), ensure_ascii=False)
    for name in PERSONAL & set(data):
        assert json.dumps(data[name], ensure_ascii=False).strip('"[]') not in body, (key, name)


def test_the_signature_is_the_one_the_standard_webhooks_spec_gives():
    """The test vector of the Standard Webhooks reference libraries."""
    assert webhook_signing.sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
                                1614265330, b'{"test": 2432232314}') == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_partners_verifier_accepts_ours_and_refuses_tampering():
    old, new = webhook_signing.new_secret(), webhook_signing.new_secret()
    assert old.startswith("whsec_") and old != new
    body, stamp = b'{"specversion":"1.0"}', 1_800_000_000
    h = webhook_signing.headers([new, old], "evt-1", stamp, body)
    assert verify([old], h, body, now=stamp) is None and verify([new], h, body, now=stamp) is None
    assert verify([webhook_signing.new_secret()], h, body, now=stamp) == "no signature matches"
    assert verify([new], h, body + b" ", now=stamp) == "no signature matches"
    assert verify([new], h, body, now=stamp + 3600) == "timestamp outside the tolerance"


@pytest.mark.parametrize("ip", ["127.0.0.1", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
                                "fe80::1", "100.64.0.1", "0.0.0.0", "::ffff:10.0.0.1", "224.0.0.1", "fd00::1"])
def test_receivers_may_not_resolve_to_internal_addresses(ip):
    with pytest.raises(webhook_http.Refused):
        webhook_http.check_address(ip, Settings(app_env="production"))


def test_public_addresses_pass_and_configured_cluster_ranges_do_not():
    webhook_http.check_address("93.184.216.34", Settings())
    with pytest.raises(webhook_http.Refused, match="blocked range"):
        webhook_http.check_address("93.184.216.34", Settings(webhook_blocked_cidrs="93.184.0.0/16"))
    with pytest.raises(webhook_http.Refused, match="blocked range"):  # the test allowance never lifts them
        webhook_http.check_address("127.0.0.1", Settings(webhook_allow_loopback=True,
                                                         webhook_blocked_cidrs="127.0.0.0/8"))


def test_https_only_and_no_loopback_in_production_even_if_the_test_setting_is_on():
    prod = Settings(app_env="production", webhook_allow_loopback=True, secret_key="x" * 32)
    with pytest.raises(webhook_http.Refused, match="https"):
        webhook_http.check_url("http://93.184.216.34/hook", prod, resolve=False)
    with pytest.raises(webhook_http.Refused, match="loopback"):
        webhook_http.check_address("127.0.0.1", prod)
    with pytest.raises(RuntimeError, match="WEBHOOK_ALLOW_LOOPBACK"):
        webhook_http.refuse_in_production(prod)
    dev = Settings(webhook_allow_loopback=True)
    webhook_http.check_address("127.0.0.1", dev)
    assert webhook_http.check_url("http://127.0.0.1:9/x", dev).addresses == ("127.0.0.1",)


def test_a_subscription_failing_in_a_row_is_paused_growing_then_probed_and_closed_by_a_success():
    from services.notifications.webhook_handlers import Circuits

    now = [1000.0]
    clock = lambda: now[0]  # noqa: E731
    s, sub, other = Settings(webhook_retry_base_seconds=5), uuid.uuid4(), uuid.uuid4()
    c = Circuits()
    for _ in range(Circuits.THRESHOLD - 1):
        c.record(sub, False, s, clock)
    assert c.paused(clock) == [] and c.probing(clock) == []
    c.record(sub, False, s, clock)
    assert c.paused(clock) == [sub]
    first = c.until[sub] - now[0]
    assert 2.5 <= first <= 5
    now[0] += first + 0.01
    assert c.paused(clock) == [] and c.probing(clock) == [sub]  # one delivery at a time
    c.record(sub, False, s, clock)  # the probe failed: a longer pause
    assert c.paused(clock) == [sub] and 5 <= c.until[sub] - now[0] <= 10
    for _ in range(20):
        now[0] = c.until[sub] + 0.01
        c.record(sub, False, s, clock)
    assert c.until[sub] - now[0] <= Circuits.MAX_PAUSE
    c.record(other, False, s, clock)
    assert other not in c.paused(clock)
    c.record(sub, True, s, clock)
    assert sub not in c.paused(clock) + c.probing(clock) and sub not in c.failures


def test_backoff_is_exponential_with_jitter_capped_and_lasts_about_a_day():
    rng = random.Random(1)
    s = Settings()
    delays = [webhook_domain.backoff(n, s.webhook_retry_base_seconds, s.webhook_retry_cap_seconds, rng)
              for n in range(1, 40)]
    for n, d in enumerate(delays, 1):
        full = min(s.webhook_retry_cap_seconds, s.webhook_retry_base_seconds * 2 ** (n - 1))
        assert full / 2 <= d <= full
    assert len({round(d, 3) for d in delays[:5]}) == 5
    elapsed, attempts = 0.0, 0
    while elapsed < s.webhook_retry_window_seconds:
        attempts += 1
        elapsed += webhook_domain.backoff(attempts, s.webhook_retry_base_seconds, s.webhook_retry_cap_seconds, rng)
    assert 12 <= attempts <= 30, attempts


def test_logged_answers_carry_no_secret():
    secret = webhook_signing.new_secret()
    text = f"echo {secret} and {secret[6:]} sig=v1,{'A' * 43}= other whsec_abc"
    clean = webhook_domain.scrub(text, [secret])
    assert secret[6:] not in clean and "v1,AAAA" not in clean and "whsec_" not in clean


# ---- versioning ------------------------------------------------------------------------------------

def test_no_released_event_changed_incompatibly():
    """Compares the code with docs/events-released.json: fails when a released event version loses
    or renames a field, changes a type, or gains a required field without a new version."""
    assert event_versions.check(event_versions.load_released(), event_versions.current()) == []


def test_the_compatibility_rule_catches_what_breaks_consumers():
    released = event_versions.load_released()["consultations.consultation_published@v1"]
    now = json.loads(json.dumps(released))
    now["properties"]["note"] = {"type": "string"}  # an optional field: compatible
    assert event_versions.problems(released, now) == []
    renamed = json.loads(json.dumps(released))
    renamed["properties"]["name"] = renamed["properties"].pop("title")
    assert any("'title' removed" in p for p in event_versions.problems(released, renamed))
    retyped = json.loads(json.dumps(released))
    retyped["properties"]["category"] = {"type": "string"}
    assert any("'category' changed type" in p for p in event_versions.problems(released, retyped))
    required = json.loads(json.dumps(released))
    required["properties"]["venue"] = {"type": "string"}
    required["required"] = [*required["required"], "venue"]
    assert any("'venue' is required" in p for p in event_versions.problems(released, required))
    narrowed = json.loads(json.dumps(released))
    narrowed["$defs"]["Form"]["enum"] = narrowed["$defs"]["Form"]["enum"][:1]
    assert any("lost enum values" in p for p in event_versions.problems(released, narrowed))


def test_version_2_is_published_beside_version_1_and_the_asyncapi_document_carries_both():
    key = ("registry", "probe_versioned")

    @event(*key)
    class ProbeVersioned(EventData):
        name: str

    @event(*key, version=2)
    class ProbeVersionedV2(EventData):
        given_name: str

    try:
        assert CATALOGUE[key] is ProbeVersionedV2 and VERSIONS[(*key, 1)] is ProbeVersioned
        doc = yaml.safe_load(asyncapi.render())
        channel = doc["channels"]["registry.probe_versioned"]
        assert set(channel["messages"]) == {"registry_probe_versioned", "registry_probe_versioned_v1"}
        messages = doc["components"]["messages"]
        assert messages["registry_probe_versioned"]["payload"]["properties"]["version"]["const"] == 2
        assert messages["registry_probe_versioned_v1"]["payload"]["properties"]["version"]["const"] == 1
        assert messages["registry_probe_versioned_v1"]["x-deprecated"] is True
        with pytest.raises(ValueError, match="registered twice"):
            event(*key, version=2)(type("Other", (EventData,), {"__annotations__": {"x": int}}))
    finally:
        CATALOGUE.pop(key, None)
        VERSIONS.pop((*key, 1), None)
        VERSIONS.pop((*key, 2), None)


def test_a_later_version_is_public_only_with_its_own_fields_and_named_by_type_dot_version(monkeypatch):
    key = ("consultations", "decision_published")
    assert public_events.project(*key, {"title": "x", "author_id": "y"}, version=2) is None  # not listed: inside
    monkeypatch.setitem(public_events.LATER_VERSIONS, (*key, 2), ("consultation_id", "title"))
    assert public_events.project(*key, {"consultation_id": "c", "title": "x", "author_id": "y"}, version=2) == {
        "consultation_id": "c", "title": "x"}
    assert {"decision_published", "decision_published.v1", "decision_published.v2"} <= set(public_events.selectors())
    from contracts.webhooks import FeedQuery

    FeedQuery(types="decision_published.v2,comment_published")
    with pytest.raises(ValueError, match="consultation_published.v2"):
        FeedQuery(types="consultation_published.v2")
    for (source, event_type, version), fields in public_events.LATER_VERSIONS.items():
        if (source, event_type, version) == (*key, 2):
            continue
        model = VERSIONS[(source, event_type, version)]
        assert set(fields) <= set(model.model_fields) and not set(fields) & PERSONAL
