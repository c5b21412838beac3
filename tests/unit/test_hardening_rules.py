"""Plain hardening rules (no infrastructure; docs/hardening.md)."""
from __future__ import annotations

from collections import namedtuple
from datetime import datetime, timezone

import pytest

from contracts.registry import DevLoginIn
from gateway.openapi import _storable
from gateway.problems import RequestInvalid
from services.consultations.rules import same_text
from services.moderation.rules import comment_is_public
from services.registry.rules import window_start

Case = namedtuple("Case", "status decision source")


def test_unstorable_text_is_refused_naming_the_field():
    _storable({"body": "звичайний текст", "items": [{"x": "ok"}]}, "body")
    for bad, field in (({"body": "a\x00b"}, "body.body"), ({"q": ["ok", "\ud800"]}, "body.q.1")):
        with pytest.raises(RequestInvalid) as exc:
            _storable(bad, "body")
        assert exc.value.errors[0]["field"] == field


def test_same_text_ignores_case_and_spacing_only():
    assert same_text("Прошу  Пандус ", "прошу пандус")
    assert not same_text("Прошу пандус", "Прошу пандуси")


def test_only_public_comments_can_be_reported():
    assert comment_is_public(None)  # screening passed it
    assert comment_is_public(Case("decided", "approved", "screening"))
    assert comment_is_public(Case("open", None, "report"))  # public, reopened by reports
    assert not comment_is_public(Case("open", None, "screening"))  # held: pending
    assert not comment_is_public(Case("decided", "rejected", "report"))


def test_dev_login_grants_a_role_named_twice_once():
    assert DevLoginIn(subject="s", full_name="n", roles=["admin", "admin", "resident"]).roles == ["admin", "resident"]


def test_fixed_windows_align_for_every_replica():
    at = datetime(2026, 11, 25, 5, 30, 17, tzinfo=timezone.utc)
    assert window_start(at, 60) == datetime(2026, 11, 25, 5, 30, tzinfo=timezone.utc)
    assert window_start(at, 86400) == datetime(2026, 11, 25, tzinfo=timezone.utc)


def test_owasp_api4_a_request_counts_in_all_its_buckets_at_once_in_one_order_and_once_each():
    """chassis.rate.count_hits: every bucket of a request in one call to the store (one statement),
    keys in one order everywhere (two writers never lock the counters crosswise); a key twice is a
    programming error, not a double count."""
    from chassis.rate import count_hits
    from contracts.common import Bucket

    calls = []

    class Store:
        def count_hits(self, pairs):
            calls.append([k for k, _ in pairs])
            return [11, 1]

        def forget_windows_before(self, cutoff):
            pass

    at = datetime(2026, 11, 25, 5, 30, 20, tzinfo=timezone.utc)
    buckets = [Bucket(key="w:p:x", limit=3, window=60), Bucket(key="w:a:y", limit=10, window=60)]
    assert count_hits(Store(), buckets, at) == 41  # w:a:y over its limit: until its window ends
    assert calls == [["w:a:y", "w:p:x"]]
    with pytest.raises(ValueError):
        count_hits(Store(), [buckets[0], buckets[0]], at)
