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
