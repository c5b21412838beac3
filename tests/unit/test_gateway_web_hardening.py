"""Gateway and web hardening rules that need no running system: safe ``next=``, the APP_ENV set,
nested JSON, CSRF tokens, the zip-bomb check (docs/hardening.md, "Gateway and web")."""
from __future__ import annotations

import io
import os
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from pydantic import ValidationError

from chassis.settings import DEV_SECRET, Settings
from gateway.app import create_app
from gateway.oauth import safe_next
from tests.support.samples import bomb

ROOT = Path(__file__).resolve().parents[2]


# ---- open redirect (R-2.3 login, the consent step, next=) ------------------------------------------

@pytest.mark.parametrize("bad", ["/\t/x", "/%09/x", "/\\x", "//x", "https:x", "https://x", "/%5cx",
                                 "/\n/x", "/\r/x", "/ /x", "/%0d%0a/x", "/\\/x", "x", "", None, "/%2f/x",
                                 "javascript:alert(1)", "/\x00/x", "/\u2028/x", "///x"])
def test_safe_next_refuses_anything_but_a_local_path(bad):
    assert safe_next(bad) == "/"


@pytest.mark.parametrize("good", ["/", "/consultations/5", "/consultations?category=01&page=2",
                                  "/me/consent?next=%2Fme", "/search?q=a%20b", "/plan/2026#q3",
                                  "/консультації"])
def test_safe_next_keeps_local_paths(good):
    assert safe_next(good) == good


def test_login_page_carries_no_foreign_next():
    app = create_app(Settings(auth_dev_login=True, rate_limit_enabled=False))
    r = app.test_client().get("/login?next=/%09/evil.example")
    assert r.status_code == 200 and b"evil.example" not in r.data


def test_api_login_start_keeps_no_foreign_next():
    from itsdangerous import URLSafeTimedSerializer

    settings = Settings(rate_limit_enabled=False)
    app = create_app(settings)
    r = app.test_client().get("/api/v1/auth/login?next=/%09/evil.example")
    assert r.status_code == 302
    cookie = r.headers.getlist("Set-Cookie")[0].split(";")[0].split("=", 1)[1]
    saved = URLSafeTimedSerializer(settings.secret_key, salt="econsult-oauth").loads(cookie)
    assert saved["next"] == "/"


# ---- APP_ENV: a fixed set; dev login and the default key only in development and test ---------------

@pytest.mark.parametrize("value", ["Production", "prod", " production", "staging", "PRODUCTION", "dev", ""])
def test_app_env_outside_the_fixed_set_refuses(value, monkeypatch):
    monkeypatch.setenv("APP_ENV", value)
    with pytest.raises(ValidationError, match="app_env"):
        Settings()


@pytest.mark.parametrize("value", ["development", "test"])
def test_dev_login_and_default_key_allowed_in_development_and_test(value):
    create_app(Settings(app_env=value, auth_dev_login=True, secret_key=DEV_SECRET))


def test_production_refuses_dev_login_and_the_default_key():
    with pytest.raises(RuntimeError, match="AUTH_DEV_LOGIN"):
        create_app(Settings(app_env="production", auth_dev_login=True, secret_key="k" * 40))
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(Settings(app_env="production"))


@pytest.mark.parametrize("command", [["-c", "import gateway.wsgi"], ["-m", "chassis.run", "registry"]])
def test_gateway_and_services_do_not_start_with_a_production_like_app_env(command):
    env = {**os.environ, "APP_ENV": "Production", "AUTH_DEV_LOGIN": "1"}
    r = subprocess.run([sys.executable, *command], cwd=ROOT, env=env, capture_output=True, timeout=60)
    assert r.returncode != 0 and b"app_env" in r.stderr


def test_a_service_refuses_the_default_key_in_production():
    env = {**os.environ, "APP_ENV": "production", "AUTH_DEV_LOGIN": "0", "SECRET_KEY": DEV_SECRET}
    r = subprocess.run([sys.executable, "-m", "chassis.run", "registry"], cwd=ROOT, env=env,
                       capture_output=True, timeout=60)
    assert r.returncode != 0 and b"SECRET_KEY" in r.stderr


# ---- deeply nested JSON -------------------------------------------------------------------------

@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"a":' * 5_000, b'{"a":' * 40 + b"1" + b"}" * 40])
def test_deeply_nested_json_is_a_422_naming_the_body(body):
    client = create_app(Settings(auth_dev_login=True, rate_limit_enabled=False)).test_client()
    r = client.post("/api/v1/auth/dev-login", data=body, content_type="application/json")
    assert r.status_code == 422 and r.mimetype == "application/problem+json"
    assert [e["field"] for e in r.get_json()["errors"]] == ["body"]


def test_json_depth_skips_brackets_inside_strings():
    from gateway.openapi import json_depth

    assert json_depth(b'{"a": "[[[[[[", "b": [1, {"c": "\\"]]]"}]}') == 3
    assert json_depth(b"[" * 100_000) == 100_000


# ---- CSRF: non-ASCII tokens, and tokens bound to the session -------------------------------------

def test_non_ascii_csrf_token_is_a_403_not_a_500():
    app = create_app(Settings(auth_dev_login=True, rate_limit_enabled=False))
    client = app.test_client()
    client.set_cookie("econsult_csrf", "abc")
    r = client.put("/api/v1/me", json={}, headers={"X-CSRF-Token": "\xe9",
                                                   "Cookie": "econsult_session=x; econsult_csrf=abc"})
    assert r.status_code in (401, 403) and r.mimetype == "application/problem+json"
    r = client.post("/login/dev", data={"csrf_token": "ї", "subject": "s", "full_name": "Н Н"})
    assert r.status_code == 403 and r.mimetype == "text/html" and "CSRF" in r.get_data(as_text=True)


# ---- zip bomb in the upload check --------------------------------------------------------------


def test_zip_bomb_is_refused_without_inflating_it():
    from chassis.files import ODT, sniff

    data = bomb()
    assert len(data) < 400_000
    tracemalloc.start()
    try:
        assert sniff(data) is None
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5 * 1024 * 1024, f"the check allocated {peak / 1e6:.0f} MB"
    honest = io.BytesIO()
    with zipfile.ZipFile(honest, "w") as z:
        z.writestr("mimetype", ODT)
        z.writestr("content.xml", "<x/>")
    assert sniff(honest.getvalue()) == ODT


# ---- files carry one charset; the identity provider's failures; the OAuth state cookie ------------

@pytest.mark.parametrize("content_type", ["text/csv; charset=utf-8", "text/html; charset=utf-8"])
def test_report_files_send_a_single_charset(content_type, tmp_path):
    from chassis.files import FileStore
    from contracts.reports import StoredFile
    from gateway.routes_reports import send

    app = create_app(Settings(rate_limit_enabled=False, file_store=str(tmp_path)))
    digest = FileStore(tmp_path).put("звіт".encode())
    with app.test_request_context("/"):
        r = send(StoredFile(sha256=digest, content_type=content_type, filename="report.csv"))
    assert r.headers["Content-Type"] == content_type
    assert r.headers["Content-Type"].count("charset") == 1


def _login_state(client) -> str:
    r = client.get("/api/v1/auth/login")
    assert r.status_code == 302
    return r.headers["Location"].split("state=", 1)[1].split("&", 1)[0]


def _oauth_cookie_cleared(r) -> bool:
    return any(c.startswith("econsult_oauth=;") and "Path=/api/v1/auth" in c
               for c in r.headers.getlist("Set-Cookie"))


def test_unreachable_identity_provider_is_503_and_the_state_cookie_is_cleared():
    with socket_on_a_closed_port() as url:
        app = create_app(Settings(rate_limit_enabled=False, oauth_token_url=url, oauth_userinfo_url=url))
        client = app.test_client()
        state = _login_state(client)
        r = client.get(f"/api/v1/auth/callback?code=c&state={state}")
    assert r.status_code == 503 and r.mimetype == "application/problem+json"
    assert r.get_json()["code"] == "provider_unavailable"
    assert _oauth_cookie_cleared(r)


def test_a_failed_callback_clears_the_state_cookie():
    client = create_app(Settings(rate_limit_enabled=False)).test_client()
    _login_state(client)
    r = client.get("/api/v1/auth/callback?code=c&state=not-the-state")
    assert r.status_code == 422 and r.get_json()["code"] == "invalid_state"
    assert _oauth_cookie_cleared(r)
    _login_state(client)
    r = client.get("/api/v1/auth/callback?error=access_denied&state=x")  # the person said no
    assert r.status_code == 422 and _oauth_cookie_cleared(r)


class socket_on_a_closed_port:
    """A loopback URL nothing listens on (bound, then closed)."""

    def __enter__(self) -> str:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        return f"http://127.0.0.1:{port}/token"

    def __exit__(self, *exc):
        return False
