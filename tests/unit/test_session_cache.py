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
