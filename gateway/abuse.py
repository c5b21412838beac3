"""Abuse limits and response hardening (OWASP API4, ASVS 5.0 V3, V4, V13).

* Rate limits on writes (per person and per client address) and logins (per address): 429
  problem+json with ``Retry-After`` (a Ukrainian page on the web routes). The counts live in the registry's database (``rate_hit`` RPC,
  one fixed-window upsert per bucket), so every gunicorn worker and gateway replica shares them and
  the gateway keeps nothing.
* Request size: JSON bodies up to ``MAX_JSON_KB``, attachments up to ``MAX_ATTACHMENT_MB`` (413).
* Security headers on every response: CSP, nosniff, frame denial, Referrer-Policy, HSTS on https.
"""
from __future__ import annotations

import uuid

from flask import Flask, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from chassis.errors import ServiceError
from chassis.settings import Settings
from contracts.registry import Bucket
from gateway import auth
from gateway.auth import SAFE_METHODS
from gateway.clients import registry

LOGIN_RULES = {"/api/v1/auth/login", "/api/v1/auth/callback", "/api/v1/auth/dev-login", "/login/dev"}
# Swagger UI (/docs) needs its own scripts and styles, inline styles and data: images; nothing else
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
HSTS = "max-age=31536000; includeSubDomains"


class TooManyRequests(ServiceError):
    status = 429
    default_code = "rate_limited"
    retry_after = 1


def counted(rule: str, method: str) -> bool:
    """Logins and every unsafe request count, whatever its path (the web forms at ``/`` too);
    reads do not."""
    return rule in LOGIN_RULES or method not in SAFE_METHODS


def buckets(settings: Settings, rule: str, method: str, address: str, person_id: str | None) -> list[dict]:
    """Which counters this request adds to (a plain function: unit-tested)."""
    window = settings.rate_window_seconds
    if rule in LOGIN_RULES:
        return [{"key": f"login:addr:{address}", "limit": settings.rate_logins_per_address, "window": window}]
    if not counted(rule, method):
        return []
    out = [{"key": f"write:addr:{address}", "limit": settings.rate_writes_per_address, "window": window}]
    if person_id:
        out.append(person_bucket(settings, person_id))
    return out


def person_bucket(settings: Settings, person_id: str = "") -> dict:
    """The per-person write bucket; with no id, the template the registry completes (resolve_and_hit)."""
    return {"key": f"write:person:{person_id}", "limit": settings.rate_writes_per_person,
            "window": settings.rate_window_seconds}


def _typed(found: list[dict]) -> list[Bucket]:
    return [Bucket(**b) for b in found]


def _person_id() -> str | None:
    try:
        principal = auth.current_principal()
    except ServiceError:  # a bad token or CSRF: the route itself answers that
        return None
    return str(principal.person_id) if principal else None


def install(app: Flask, settings: Settings) -> None:
    if settings.forwarded_proxies:
        n = settings.forwarded_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]

    @app.before_request
    def _limit():
        if request.url_rule is None:
            return None
        if request.mimetype != "multipart/form-data":
            limit = settings.max_json_kb * 1024
            if (request.content_length or 0) > limit:
                raise RequestEntityTooLarge(f"Тіло запиту більше за {settings.max_json_kb} КіБ")
            request.max_content_length = limit  # also bounds chunked bodies
        if not settings.rate_limit_enabled:
            return None
        rule, method = request.url_rule.rule, request.method
        if not counted(rule, method):
            return None
        address = request.remote_addr or "unknown"
        session_id = auth.session_to_resolve() if rule not in LOGIN_RULES else None
        cached = auth.cached_principal(session_id) if session_id else None
        if cached is not None:  # the session cache knows the caller: only the counting is left
            auth.remember(cached)
            wait = registry.rate_hit(_typed(buckets(settings, rule, method, address, str(cached.person_id))))
        elif session_id:
            # One round trip for an authenticated write: the registry resolves the session and counts
            # the request (before: resolve_session and rate_hit, two RPCs; docs/benchmarks.md).
            generation = auth.cache_generation()
            found = registry.resolve_and_hit(uuid.UUID(session_id), _typed(buckets(settings, rule, method, address, None)),
                                             Bucket(**person_bucket(settings)))
            if found.principal is not None:
                auth.remember(found.principal, session_id, generation)
            wait = found.wait
        else:
            wanted = buckets(settings, rule, method, address,
                             _person_id() if rule not in LOGIN_RULES else None)
            wait = registry.rate_hit(_typed(wanted))
        if wait:
            exc = TooManyRequests(f"Забагато запитів; спробуйте через {wait} с", code="rate_limited")
            exc.retry_after = wait
            raise exc
        return None

    @app.after_request
    def _headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.scheme == "https" or settings.public_url.startswith("https://"):
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response
