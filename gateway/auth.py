"""Who is calling: signed, expiring session tokens (Bearer for API clients, an HttpOnly SameSite
cookie with a double-submit CSRF token for browsers), resolved by the registry, which also knows
whether the session was revoked (logout, erasure); kept briefly by each worker
(gateway.session_cache), dropped by the registry's events."""
from __future__ import annotations

import hashlib
import hmac
import uuid

from flask import Response, current_app, g, request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from chassis.errors import Forbidden, NotFound, ServiceError
from contracts import identity
from contracts.identity import Principal, Role
from gateway.clients import registry

SESSION_COOKIE = "econsult_session"
CSRF_COOKIE = "econsult_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"  # the same token as a hidden form field, for plain HTML forms (web pages)
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
API_KEY_PREFIX = "ek_"  # partners' API keys (gateway.api_keys), never sessions


class Unauthorized(ServiceError):
    status = 401
    default_code = "login_required"


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SETTINGS"].secret_key, salt=salt)


def sign_session(session_id: str) -> str:
    return _serializer("econsult-session").dumps({"sid": str(session_id)})


def read_token(token: str) -> str:
    max_age = current_app.config["SETTINGS"].session_ttl_minutes * 60
    try:
        return _serializer("econsult-session").loads(token, max_age=max_age)["sid"]
    except SignatureExpired:
        raise Unauthorized("Сесія завершилася, увійдіть знову", code="token_expired") from None
    except (BadSignature, KeyError, TypeError):
        raise Unauthorized("Недійсний токен доступу", code="token_invalid") from None


def session_csrf(session_id: str) -> str:
    """The CSRF token of a session: an HMAC of its id under SECRET_KEY, so a cookie an attacker
    planted (with a matching header) is worth nothing, and a new login brings a new token."""
    key = current_app.config["SETTINGS"].secret_key.encode()
    return hmac.new(key, b"econsult-csrf:" + str(session_id).encode(), hashlib.sha256).hexdigest()


def set_session_cookies(response: Response, token: str) -> None:
    settings = current_app.config["SETTINGS"]
    secure = settings.public_url.startswith("https://")
    max_age = settings.session_ttl_minutes * 60
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, httponly=True, samesite="Lax",
                        secure=secure, path="/")
    response.set_cookie(CSRF_COOKIE, session_csrf(read_token(token)), max_age=max_age, httponly=False,
                        samesite="Lax", secure=secure, path="/")


def clear_session_cookies(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")


def _token_from_request() -> tuple[str | None, bool]:
    """(token, came_from_cookie)."""
    header = request.headers.get("Authorization", "")
    if header.partition(" ")[2].strip().startswith(API_KEY_PREFIX):
        header = ""  # a partner's API key, not a session (gateway.api_keys)
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Очікується заголовок Authorization: Bearer <токен>", code="token_invalid")
        return token.strip(), False
    cookie = request.cookies.get(SESSION_COOKIE)
    return (cookie, True) if cookie else (None, False)


def expected_csrf() -> str:
    """The token this request must carry: with a valid session cookie, the session's own token
    (:func:`session_csrf`, whatever the ``econsult_csrf`` cookie says); without one (the login
    form), the double-submit cookie."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        try:
            return session_csrf(read_token(cookie))
        except Unauthorized:
            pass
    return request.cookies.get(CSRF_COOKIE, "")


def check_csrf() -> None:
    """The header (API clients in a browser) or the form field (HTML forms) must equal
    :func:`expected_csrf`; any text compares (a non-ASCII token is simply wrong)."""
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent and request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        sent = request.form.get(CSRF_FIELD, "")
    expected = expected_csrf()
    if not expected or not hmac.compare_digest(sent.encode("utf-8", "surrogatepass"),
                                               expected.encode("utf-8", "surrogatepass")):
        raise Forbidden("Відсутній або неправильний CSRF-токен", code="csrf_failed")


def session_to_resolve() -> str | None:
    """The session id of a request whose caller is not known yet, once its token (and, for a cookie
    on a write, its CSRF token) checked out; None otherwise: a refused token is the route's to answer
    (``current_principal`` raises it there)."""
    if "principal" in g:
        return None
    try:
        token, from_cookie = _token_from_request()
        if not token:
            return None
        session_id = read_token(token)
        if from_cookie and request.method not in SAFE_METHODS:
            check_csrf()
    except ServiceError:
        return None
    return session_id


def _cache():
    return current_app.extensions.get("session_cache")


def cached_principal(session_id: str) -> Principal | None:
    """The session as this worker resolved it lately (gateway.session_cache), or None."""
    cache = _cache()
    return cache.get(session_id) if cache is not None else None


def cache_generation() -> int:
    """Read before asking the registry; :func:`remember` caches only if nothing changed since."""
    cache = _cache()
    return cache.generation if cache is not None else 0


def remember(principal: dict | Principal, session_id: str | None = None, generation: int | None = None) -> None:
    """The caller as the registry resolved it for this request (see gateway.abuse); kept in the
    session cache when ``session_id`` and the ``generation`` read before the lookup are given.
    A session without consent is never kept: the consent that follows is made through one worker,
    and another one must not serve the page after it from the copy before it."""
    g.principal = principal if isinstance(principal, Principal) else Principal.model_validate(principal)
    cache = _cache()
    if cache is not None and session_id is not None and generation is not None and g.principal.consent_given:
        cache.put(session_id, str(g.principal.person_id), g.principal, generation)


def forget_person(person_id) -> None:
    """After a change to a person made through this worker: no wait for the registry's event."""
    cache = _cache()
    if cache is not None:
        cache.drop_person(str(person_id))


def current_principal() -> Principal | None:
    """The caller, or None for an anonymous request (memoised for the request)."""
    if "principal" in g:
        return g.principal
    token, from_cookie = _token_from_request()
    if not token:
        g.principal = None
        return None
    session_id = read_token(token)
    if from_cookie and request.method not in SAFE_METHODS:
        check_csrf()
    principal = cached_principal(session_id)
    if principal is not None:
        g.principal = principal
        return principal
    generation = cache_generation()
    try:
        found = registry.resolve_session(uuid.UUID(session_id))
    except NotFound:
        raise Unauthorized("Сесію завершено, увійдіть знову", code="session_revoked") from None
    remember(found, session_id, generation)
    return g.principal


def require_login() -> Principal:
    principal = current_principal()
    if principal is None:
        raise Unauthorized("Потрібно увійти через id.gov.ua", code="login_required")
    return principal


def require_consent() -> Principal:
    return identity.require_consent(require_login())


def require_role(*roles: Role) -> Principal:
    principal = require_login()
    if not any(principal.has(r) for r in roles):
        raise Forbidden("Недостатньо повноважень", code="role_required")
    return principal


def require_eligible() -> Principal:
    """R-1.3: commenting, voting and initiating need age 14+ and community membership."""
    return identity.require_participant(require_login())
