"""HTML forms through the API's own pydantic models; errors (pydantic's or a service's problem
``errors[].field``) become Ukrainian messages keyed by the form field, and what was typed is kept."""
from __future__ import annotations

from typing import Any, Callable, TypeVar, get_args

from flask import g, request
from pydantic import BaseModel, ValidationError
from pydantic_core.core_schema import ErrorType

from chassis.errors import Forbidden, NotFound, ServiceError
from gateway.auth import Unauthorized

T = TypeVar("T")
BUILTIN_ERRORS = frozenset(get_args(ErrorType))

MESSAGES = {
    "missing": "обов'язкове поле",
    "string_too_short": "щонайменше {min_length} симв.",
    "string_too_long": "не більше {max_length} симв.",
    "too_short": "щонайменше {min_length}",
    "too_long": "не більше {max_length}",
    "string_pattern_mismatch": "неправильний формат",
    "int_parsing": "потрібне ціле число",
    "greater_than_equal": "не менше {ge}",
    "less_than_equal": "не більше {le}",
    "date_from_datetime_parsing": "потрібна дата",
    "date_parsing": "потрібна дата",
    "uuid_parsing": "оберіть значення зі списку",
    "enum": "оберіть значення зі списку",
    "literal_error": "оберіть значення зі списку",
    "bool_parsing": "так або ні",
    "extra_forbidden": "зайве поле",
}


class Invalid(Exception):
    def __init__(self, errors: dict[str, str], summary: str = ""):
        super().__init__(summary or "; ".join(errors.values()))
        self.errors, self.summary = errors, summary


def field_key(path: str) -> str:
    """``body.notice.holder`` → ``holder``; ``body.title`` → ``title``; ``answers.0.text`` stays."""
    for prefix in ("body.", "query.", "notice."):
        if path.startswith(prefix):
            path = path[len(prefix):]
    return path


def _message(err: dict) -> str:
    template = MESSAGES.get(err["type"])
    if template is None:
        # a rule's own PydanticCustomError (e.g. justification_required) already speaks Ukrainian
        return err["msg"] if err["type"] not in BUILTIN_ERRORS else "некоректне значення"
    try:
        return template.format(**err.get("ctx", {}))
    except (KeyError, IndexError):
        return template


def parse(model: type[T], data: dict[str, Any]) -> T:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for err in exc.errors(include_url=False):
            key = field_key(".".join(str(p) for p in err["loc"]) or "_form")
            errors.setdefault(key, _message(err))
        raise Invalid(errors, "Перевірте виділені поля") from None


def attempt(action: Callable[[], T]) -> T:
    """Run ``action``; a refusal a person can fix (422, 409, 403 other than consent, and a file too
    large or of the wrong type, 413/415) becomes :class:`Invalid` with the service's field errors;
    401, consent and 404 go to the page handlers."""
    try:
        return action()
    except (Unauthorized, NotFound):
        raise
    except ServiceError as exc:
        if isinstance(exc, Forbidden) and exc.code in ("consent_required", "csrf_failed"):
            raise
        if exc.status not in (403, 409, 413, 415, 422):
            raise
        errors = {field_key(e.get("field") or "_form"): e.get("message", "") for e in exc.errors}
        raise Invalid(errors, exc.detail) from None


def keep(invalid: Invalid, values: dict | None = None) -> None:
    """Expose the errors and the typed values to the template being rendered."""
    g.form_errors = {**invalid.errors, "_summary": invalid.summary}
    g.form_values = values if values is not None else request.form.to_dict(flat=True)
    g.form_lists = {k: request.form.getlist(k) for k in request.form}


def text(name: str) -> str | None:
    value = request.form.get(name, "").strip()
    return value or None


def lines(name: str) -> list[str]:
    return [ln.strip() for ln in request.form.get(name, "").splitlines() if ln.strip()]
