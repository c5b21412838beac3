"""Partners' API keys at the gateway (docs/webhooks.md, "API keys"): ``X-Api-Key: ek_…`` or
``Authorization: Bearer ek_…`` on the read routes of a scope. The registry checks the key (hash,
expiry, revocation, scope) and counts the request against the key's rate in the same round trip.
A key on any other API route, or on a write, is refused (403); an unknown, revoked or expired key is 401.
Every use is attributed: the access log carries the key's id, and a counter per key."""
from __future__ import annotations

import logging

from flask import Flask, g, request
from prometheus_client import Counter

from chassis.errors import Forbidden, NotFound
from gateway.abuse import TooManyRequests
from gateway.auth import API_KEY_PREFIX, SAFE_METHODS, Unauthorized
from gateway.clients import registry

log = logging.getLogger("gateway.api_keys")
API = "/api/v1"
C = API + "/consultations/<uuid:consultation_id>"
# the routes a key may read, by scope (Flask rules)
SCOPES: dict[str, str] = {
    API + "/events": "events:read",
    API + "/categories": "consultations:read",
    API + "/consultations": "consultations:read",
    C: "consultations:read",
    C + "/comments": "consultations:read",
    C + "/results": "consultations:read",
    API + "/open-data/consultations.json": "open-data:read",
    API + "/open-data/consultations.csv": "open-data:read",
    API + "/feeds/consultations.atom": "open-data:read",
    API + "/feeds/consultations.ics": "open-data:read",
}
KEY_REQUESTS = Counter("gateway_api_key_requests_total", "Requests made with a partner's API key",
                       ["key_id", "route"])


def presented_key() -> str | None:
    key = request.headers.get("X-Api-Key", "").strip()
    if key:
        return key
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token.startswith(API_KEY_PREFIX) else None


def partner():
    """The partner this request came from (a checked key), or None."""
    return g.get("partner")


def install(app: Flask) -> None:
    @app.before_request
    def _api_key():
        key = presented_key()
        if key is None or request.url_rule is None or not request.url_rule.rule.startswith(API + "/"):
            return None  # outside the API a key means nothing: the caller is anonymous there
        rule = request.url_rule.rule
        scope = SCOPES.get(rule)
        if scope is None or request.method not in SAFE_METHODS:
            raise Forbidden("Ключ API дає лише читання подій, консультацій і відкритих даних",
                            code="api_key_not_for_this_route")
        try:
            found = registry.api_key_use(key, scope)
        except NotFound as exc:
            raise Unauthorized(exc.detail, code="api_key_invalid") from None
        g.partner = found
        KEY_REQUESTS.labels(str(found.key_id), rule).inc()
        log.info("api key %s (%s) on %s", found.prefix, found.key_id, rule,
                 extra={"api_key": str(found.key_id), "route": rule})
        if found.wait:
            exc = TooManyRequests(f"Забагато запитів з цим ключем; спробуйте через {found.wait} с",
                                  code="rate_limited")
            exc.retry_after = found.wait
            raise exc
        return None
