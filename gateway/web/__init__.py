"""Server-rendered Ukrainian pages for residents, officials and moderators, mounted at ``/``
apart from ``/api/v1`` and out of ``/openapi.json``.

The pages call the services through the same RPC pool and the same authorization helpers and rule
functions the API views use (``gateway.auth``, ``routes_consultations.create`` …), and validate forms
with the same pydantic models. Browser session: the ``econsult_session`` cookie; every form carries
the ``econsult_csrf`` double-submit token as a hidden field and every POST here checks it. Everything
works without JavaScript: plain forms, POST-redirect-GET, flash messages, errors beside the field.
"""
from __future__ import annotations

import logging
import secrets
from datetime import date, datetime
from urllib.parse import quote

from flask import Blueprint, Response, current_app, flash, g, redirect, render_template, request
from werkzeug.exceptions import HTTPException

from chassis.errors import Forbidden, NotFound, ServiceError
from chassis.workdays import local_tz
from contracts.consultations import CATEGORIES, CHANNEL_LABELS, COMMENT_STATUS_LABELS, FORM_LABELS, STATUS_LABELS
from gateway import auth, public_cache
from gateway.abuse import TooManyRequests
from gateway.rpc import ServiceFailed, ServiceUnavailable

log = logging.getLogger(__name__)

STATUS_UK = {**STATUS_LABELS, **COMMENT_STATUS_LABELS, "decision": "рішення ухвалено"}
FORM_UK = FORM_LABELS
ROLE_UK = {"resident": "мешканець", "institution_head": "керівник інституту громадянського суспільства",
           "official": "посадова особа", "moderator": "модератор", "admin": "адміністратор"}

web = Blueprint("web", __name__, template_folder="templates", static_folder="static",
                static_url_path="/assets")


# ---- CSRF and the session ------------------------------------------------------------------------

def csrf_token() -> str:
    """The token for the hidden field: the session's own (``auth.session_csrf``) when logged in;
    otherwise the double-submit cookie, which a visitor without one gets. Worked out once per
    request (a page of fifty forms verifies the session's signature once)."""
    token = g.get("csrf_for_forms")
    if token is None:
        token = auth.expected_csrf()
        if not token:
            token = g.get("new_csrf") or secrets.token_urlsafe(24)
            g.new_csrf = token
        g.csrf_for_forms = token
    return token


@web.before_request
def _csrf_on_every_post():
    # Anonymous forms (the login form) too, not only cookie-authenticated ones (login CSRF).
    if request.method not in auth.SAFE_METHODS:
        auth.check_csrf()


@web.after_request
def _issue_csrf_cookie(response: Response) -> Response:
    already = any(v.startswith(auth.CSRF_COOKIE + "=") for v in response.headers.getlist("Set-Cookie"))
    if g.get("new_csrf") and not already:
        settings = current_app.config["SETTINGS"]
        response.set_cookie(auth.CSRF_COOKIE, g.new_csrf, max_age=settings.session_ttl_minutes * 60,
                            httponly=False, samesite="Lax", path="/",
                            secure=settings.public_url.startswith("https://"))
    if not public_cache.cacheable(request, response):  # an anonymous public page: gateway.public_cache
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def principal():
    """The caller or None; a stale cookie on a public page (or, while rendering the refusal, a
    failed CSRF check) counts as anonymous."""
    try:
        return auth.current_principal()
    except (auth.Unauthorized, Forbidden):
        g.principal = None
        return None


def page(template: str, status: int = 200, **context) -> tuple[str, int]:
    return render_template(f"web/{template}", **context), status


def back(default: str = "/") -> str:
    from gateway.oauth import safe_next

    return safe_next(request.values.get("next") or default)


# ---- errors: a login redirect, the consent step, or a Ukrainian page ----------------------------

@web.errorhandler(auth.Unauthorized)
def _login_first(_exc):
    return redirect("/login?next=" + quote(request.full_path.rstrip("?")), 303)


@web.errorhandler(ServiceError)
def _service_error(exc: ServiceError):
    if isinstance(exc, Forbidden) and exc.code == "consent_required":
        return redirect("/me/consent?next=" + quote(request.full_path.rstrip("?")), 303)
    if isinstance(exc, NotFound):
        return page("error.html", 404, title="Сторінку не знайдено",
                    detail="Такої сторінки немає або у вас немає до неї доступу.")
    return page("error.html", exc.status, title="Дію не виконано", detail=exc.detail)


@web.errorhandler(TooManyRequests)
def _too_many(exc: TooManyRequests):
    body, status = page("error.html", 429, title="Забагато запитів",
                        detail=f"Ви надіслали забагато запитів. Спробуйте ще раз через {exc.retry_after} с.")
    return body, status, {"Retry-After": str(exc.retry_after)}


@web.errorhandler(ServiceUnavailable)
def _unavailable(exc: ServiceUnavailable):
    return page("error.html", 503, title="Сервіс тимчасово недоступний",
                detail="Спробуйте ще раз за хвилину.")


@web.errorhandler(HTTPException)
def _http(exc: HTTPException):
    status = exc.code or 500
    title = "Сторінку не знайдено" if status == 404 else "Запит не виконано"
    return page("error.html", status, title=title, detail="")


@web.errorhandler(Exception)
def _unexpected(exc: Exception):
    log.exception("web page failed")
    return page("error.html", 500, title="Внутрішня помилка", detail="Спробуйте пізніше.")


@web.errorhandler(ServiceFailed)
def _failed(exc: ServiceFailed):
    return page("error.html", 502, title="Внутрішня помилка", detail="Спробуйте пізніше.")


# ---- template helpers ---------------------------------------------------------------------------

def _when(value) -> str:
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value or " " in value else date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        return value.astimezone(local_tz()).strftime("%d.%m.%Y %H:%M")
    return value.strftime("%d.%m.%Y")


@web.app_template_global("csrf_field")
def _csrf_field():
    from markupsafe import Markup

    return Markup('<input type="hidden" name="%s" value="%s">' % (auth.CSRF_FIELD, csrf_token()))


@web.context_processor
def _context():
    return {"me": principal(), "csrf_token": csrf_token, "CATEGORIES": CATEGORIES,
            "STATUS_UK": STATUS_UK, "FORM_UK": FORM_UK, "ROLE_UK": ROLE_UK, "CHANNEL_UK": CHANNEL_LABELS,
            "dev_login": current_app.config["SETTINGS"].auth_dev_login, "when": _when,
            "errors": g.get("form_errors", {}), "values": g.get("form_values", {})}


def notify(message: str, kind: str = "ok") -> None:
    flash(message, kind)


@web.record_once
def _flash_cookie(state):
    # Flash messages live in Flask's signed session cookie, named apart from the login session.
    state.app.secret_key = state.app.config["SETTINGS"].secret_key
    state.app.config.update(SESSION_COOKIE_NAME="econsult_flash", SESSION_COOKIE_HTTPONLY=True,
                            SESSION_COOKIE_SAMESITE="Lax")


def register() -> Blueprint:
    from gateway.web import (views_cabinet, views_moderation, views_official, views_public,  # noqa: F401
                             views_reports)

    return web
