"""OAuth 2.0 authorization-code login with an id.gov.ua-style provider (R-2.3, R-3.5).

``state`` and PKCE (S256) are generated per login and kept in a short-lived signed cookie; the
callback refuses a tampered or missing state, and the provider refuses a wrong code or verifier.
The client secret never leaves the server.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import unicodedata
from urllib.parse import unquote, urlencode, urlsplit

import requests
from flask import current_app, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from chassis.errors import InvalidInput, ServiceError

OAUTH_COOKIE = "econsult_oauth"
STATE_MAX_AGE = 600


class LoginFailed(ServiceError):
    status = 400
    default_code = "login_failed"


class ProviderFailed(ServiceError):
    """The identity provider answered with an error or something unreadable: 502."""
    status = 502
    default_code = "provider_failed"


class ProviderUnavailable(ServiceError):
    """The identity provider could not be reached in time: 503."""
    status = 503
    default_code = "provider_unavailable"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SETTINGS"].secret_key, salt="econsult-oauth")


def redirect_uri() -> str:
    s = current_app.config["SETTINGS"]
    return s.oauth_redirect_url or s.public_url.rstrip("/") + "/api/v1/auth/callback"


def _local_path(value: str) -> bool:
    if not value.startswith("/") or value.startswith("//"):
        return False
    if any(ch.isspace() or ch == "\\" or unicodedata.category(ch)[0] == "C" for ch in value):
        return False  # browsers drop TAB/CR/LF and read `\` as `/`: `/\t/x` would become `//x`
    parts = urlsplit(value)
    return not parts.scheme and not parts.netloc


def safe_next(value: str | None) -> str:
    """Only a local path may follow login, the consent step or any other ``next=`` (no open
    redirect): no control character, whitespace or backslash, no scheme and no host, neither as
    given nor in its path once percent-decoded (``/%09/x``); anything else becomes ``/``."""
    if not value or len(value) > 2000:
        return "/"
    return value if _local_path(value) and _local_path(unquote(urlsplit(value).path)) else "/"


def start() -> tuple[str, str]:
    """(URL to send the browser to, value of the state cookie)."""
    s = current_app.config["SETTINGS"]
    state, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    cookie = _serializer().dumps({"state": state, "verifier": verifier,
                                  "next": safe_next(request.args.get("next"))})
    query = {"response_type": "code", "client_id": s.oauth_client_id, "auth_type": s.oauth_auth_type,
             "state": state, "redirect_uri": redirect_uri(), "code_challenge": challenge,
             "code_challenge_method": "S256"}
    sep = "&" if "?" in s.oauth_authorize_url else "?"
    return s.oauth_authorize_url + sep + urlencode(query), cookie


def finish(code: str, state: str, cookie: str | None) -> tuple[dict, str]:
    """Check state, exchange the code, read the user info: (user info, next path)."""
    s = current_app.config["SETTINGS"]
    try:
        saved = _serializer().loads(cookie or "", max_age=STATE_MAX_AGE)
    except BadSignature:
        raise InvalidInput("Сеанс входу недійсний або застарів, почніть знову", code="invalid_state",
                           errors=[{"field": "state", "message": "немає дійсного сеансу входу"}]) from None
    if not hmac.compare_digest(str(state), str(saved["state"])):
        raise InvalidInput("Параметр state не збігається", code="invalid_state",
                           errors=[{"field": "state", "message": "не збігається"}])
    params = {"grant_type": "authorization_code", "client_id": s.oauth_client_id,
              "client_secret": s.oauth_client_secret, "code": code, "redirect_uri": redirect_uri(),
              "code_verifier": saved["verifier"]}
    try:
        if s.oauth_token_method.upper() == "GET":
            r = requests.get(s.oauth_token_url, params=params, timeout=10)
        else:
            r = requests.post(s.oauth_token_url, data=params, timeout=10)
        if r.status_code >= 500:
            raise ProviderFailed(f"Постачальник ідентифікації відповів помилкою {r.status_code}")
        token = r.json() if r.status_code == 200 else {}
        if not token.get("access_token"):
            raise LoginFailed("Постачальник ідентифікації відхилив код входу", code="code_rejected")
        info = requests.get(s.oauth_userinfo_url, timeout=10, params={
            "fields": s.oauth_fields, "user_id": token.get("user_id", ""),
            "access_token": token["access_token"]})
        if info.status_code != 200:
            raise ProviderFailed("Не вдалося отримати дані користувача", code="userinfo_failed")
        return info.json(), saved["next"]
    except requests.RequestException as exc:
        raise ProviderUnavailable(f"Постачальник ідентифікації недоступний ({type(exc).__name__})") from None
    except ValueError as exc:
        raise ProviderFailed(f"Постачальник ідентифікації відповів нечитабельно ({type(exc).__name__})") from None
