"""The drills' fault hook cannot fire in production, and conditional reads answer 304."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from flask import Flask, jsonify

from chassis.faults import fault_point, refuse_in_production
from gateway.conditional import make_conditional


def test_fault_point_is_refused_in_production_and_unknown_points_are_refused():
    refuse_in_production("development", "")
    refuse_in_production("production", "")
    refuse_in_production("development", "notifications.after_smtp_250")
    with pytest.raises(RuntimeError, match="APP_ENV=production"):
        refuse_in_production("production", "notifications.after_smtp_250")
    with pytest.raises(RuntimeError, match="unknown FAULT_POINT"):
        refuse_in_production("development", "after_lunch")


def test_the_service_runner_will_not_start_with_a_fault_point_in_production():
    env = {**os.environ, "APP_ENV": "production", "FAULT_POINT": "outbox.before_publish"}
    out = subprocess.run([sys.executable, "-m", "chassis.run", "registry"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode != 0 and "FAULT_POINT is a test-only hook" in out.stderr


def test_the_hook_does_nothing_unless_named_and_never_in_production(monkeypatch):
    monkeypatch.setenv("FAULT_POINT", "outbox.after_publish")
    fault_point("outbox.before_publish")  # another point: nothing happens
    monkeypatch.setenv("APP_ENV", "production")
    fault_point("outbox.after_publish")  # would SIGKILL this test process anywhere else
    monkeypatch.setenv("APP_ENV", "development")
    monkeypatch.setenv("FAULT_SKIP", "5")
    fault_point("outbox.after_publish")  # pass 1 of 5 let through


def test_get_json_has_an_etag_and_if_none_match_answers_304():
    app = Flask(__name__)

    @app.get("/api/v1/thing")
    def thing():
        return jsonify(title="Розклад автобусів")

    app.after_request(lambda response: make_conditional(__import__("flask").request, response))
    client = app.test_client()
    first = client.get("/api/v1/thing")
    assert first.status_code == 200 and first.headers["ETag"] and first.headers["Cache-Control"] == "no-cache"
    again = client.get("/api/v1/thing", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    personal = client.get("/api/v1/thing", headers={"Authorization": "Bearer x"})
    assert personal.headers["Cache-Control"] == "private, no-cache" and "Authorization" in personal.headers["Vary"]
    assert client.get("/api/v1/thing", headers={"If-None-Match": '"other"'}).status_code == 200
