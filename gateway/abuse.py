"""Abuse limits and response hardening (OWASP API4, ASVS 5.0 V3, V4, V13).

* Rate limits on writes (per person and per client address) and logins (per address): 429
  problem+json with ``Retry-After`` (a Ukrainian page on the web routes). The counts live in
  PostgreSQL (one fixed-window upsert per bucket, ``chassis.rate``), so every gunicorn worker and
  gateway replica shares them and the gateway keeps nothing: logins in the registry's database
  (``registry.rate_hit``), writes in the consultations database (``consultations.rate_hit``), and
  a comment of a known person in the transaction that writes it (``consultations.add_comment``
  with the buckets: no round trip of its own).
* Request size: JSON bodies up to ``MAX_JSON_KB``, attachments up to ``MAX_ATTACHMENT_MB`` (413).
* Security headers on every response: CSP, nosniff, frame denial, Referrer-Policy, HSTS on https.
"""
from __future__ import annotations

from flask import Flask, g, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from chassis.errors import ServiceError, TooManyRequests
from chassis.settings import Settings
from contracts.registry import Bucket
from gateway import auth
from gateway.auth import SAFE_METHODS
from gateway.clients import consultations, registry

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


# the routes that hand their write buckets to the service that counts them where it writes
COUNTED_WHERE_WRITTEN = {"consultations.comments_create", "web.comment"}


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
    """The per-person write bucket."""
    return {"key": f"write:person:{person_id}", "limit": settings.rate_writes_per_person,
            "window": settings.rate_window_seconds}


def _typed(found: list[dict]) -> list[Bucket]:
    return [Bucket(**b) for b in found]


def buckets_to_count() -> list[Bucket] | None:
    """The write buckets of this request when its route counts them with its write (the service
    answers 429 then); None when they were counted before the route ran."""
    return g.pop("rate_buckets", None)


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
        if rule in LOGIN_RULES:
            wait = registry.rate_hit(_typed(buckets(settings, rule, method, address, None)))
        else:
            # the caller from the session cache, or resolved now (and cached); writes are counted in the
            # consultations database (docs/hardening.md, "Rate limits")
            person_id = _person_id()
            wanted = _typed(buckets(settings, rule, method, address, person_id))
            if person_id and request.endpoint in COUNTED_WHERE_WRITTEN:
                g.rate_buckets = wanted  # the route hands them to the service with the write
                return None
            wait = consultations.rate_hit(wanted)
        if wait:
            raise TooManyRequests(f"Забагато запитів; спробуйте через {wait} с", retry_after=wait)
        return None

    @app.after_request
    def _headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.scheme == "https" or settings.public_url.startswith("https://"):
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response
