"""gateway.session_cache without a broker: what is kept, for how long, and what drops it."""
from __future__ import annotations

import time

from gateway.session_cache import SessionCache


def live(ttl: float = 30.0) -> SessionCache:
    cache = SessionCache(ttl)
    cache.set_live(True)
    return cache


def test_a_session_is_kept_until_its_event_or_its_age_drops_it():
    cache = live()
    cache.put("s1", "p1", "principal-1", cache.generation)
    cache.put("s2", "p1", "principal-2", cache.generation)
    cache.put("s3", "p2", "principal-3", cache.generation)
    assert cache.get("s1") == "principal-1"
    cache.on_event("session_revoked", {"session_id": "s3", "person_id": "p2"})
    assert cache.get("s3") is None and cache.get("s1") == "principal-1"
    cache.on_event("role_granted", {"person_id": "p1", "role": "moderator"})
    assert cache.get("s1") is None and cache.get("s2") is None
    short = live(0.05)
    short.put("s", "p", "x", short.generation)
    time.sleep(0.06)
    assert short.get("s") is None


def test_a_lookup_that_started_before_an_invalidation_is_not_kept():
    cache = live()
    generation = cache.generation  # read before asking the registry
    cache.on_event("session_revoked", {"session_id": "s1", "person_id": "p1"})  # arrives meanwhile
    cache.put("s1", "p1", "resolved before the logout", generation)
    assert cache.get("s1") is None


def test_without_its_listener_the_cache_is_emptied_and_unused():
    cache = live()
    cache.put("s1", "p1", "x", cache.generation)
    cache.set_live(False)  # the broker link lost: events may be missed
    assert cache.get("s1") is None
    cache.put("s1", "p1", "x", cache.generation)
    cache.set_live(True)
    assert cache.get("s1") is None


def test_r_2_4_a_session_without_consent_is_not_kept_so_no_worker_serves_it_after_the_consent():
    """The consent is given through one gateway worker; the next page may be served by another,
    which must ask the registry rather than reuse its pre-consent copy."""
    import uuid

    from flask import Flask

    from contracts.identity import Principal
    from gateway import auth

    app = Flask(__name__)
    cache = live()
    app.extensions["session_cache"] = cache
    base = {"person_id": uuid.uuid4(), "full_name": "Тест Тест Тест", "roles": [],
            "eligibility": {"eligible": True, "reasons": []}}
    with app.test_request_context():
        auth.remember({**base, "consent_given": False}, "s1", cache.generation)
        assert cache.get("s1") is None
        auth.remember({**base, "consent_given": True}, "s1", cache.generation)
        assert cache.get("s1") is not None
