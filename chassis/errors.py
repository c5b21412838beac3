"""Typed errors that cross the RPC boundary intact.

A service raises one of these; nameko serialises it, and because each class is registered with
nameko's deserialiser (``chassis.rpcerrors``) the gateway's RPC proxy raises the same class with the
same payload, which the gateway turns into an ``application/problem+json`` answer. This module imports
no nameko: rules raise these errors.
"""
from __future__ import annotations

from typing import Any

from pydantic import ValidationError


class ServiceError(Exception):
    """Base of every expected, typed error. ``args[0]`` is a JSON-able dict."""

    status = 400
    default_code = "bad_request"

    def __init__(self, detail: Any = "", code: str | None = None,
                 errors: list[dict] | None = None):
        if isinstance(detail, dict):  # re-created from its serialised form
            payload = detail
        else:
            payload = {"detail": str(detail), "code": code or self.default_code,
                       "errors": errors or []}
        super().__init__(payload)

    @property
    def payload(self) -> dict:
        return self.args[0]

    @property
    def detail(self) -> str:
        return self.payload.get("detail", "")

    @property
    def code(self) -> str:
        return self.payload.get("code", self.default_code)

    @property
    def errors(self) -> list[dict]:
        return self.payload.get("errors", [])


class InvalidInput(ServiceError):
    status = 422
    default_code = "invalid_input"


class NotFound(ServiceError):
    status = 404
    default_code = "not_found"


class Forbidden(ServiceError):
    status = 403
    default_code = "forbidden"


class Conflict(ServiceError):
    status = 409
    default_code = "conflict"


class TooManyRequests(ServiceError):
    """Over a rate limit (OWASP API4): 429 with ``Retry-After`` (``retry_after`` seconds, carried
    in the payload so that it crosses RPC)."""

    status = 429
    default_code = "rate_limited"

    def __init__(self, detail: Any = "", code: str | None = None, errors: list[dict] | None = None,
                 retry_after: int = 1):
        super().__init__(detail, code, errors)
        if not isinstance(detail, dict):
            self.payload["retry_after"] = retry_after

    @property
    def retry_after(self) -> int:
        return int(self.payload.get("retry_after", 1))

    @retry_after.setter
    def retry_after(self, seconds: int) -> None:
        self.payload["retry_after"] = int(seconds)


class Unavailable(ServiceError):
    """The request cannot be served now; the caller may try again (docs/drills.md)."""

    status = 503
    default_code = "service_unavailable"


def field_errors(exc: ValidationError) -> list[dict]:
    """pydantic's errors as ``[{field, message, type}]`` with a dotted field path."""
    return [
        {"field": ".".join(str(p) for p in err["loc"]) or "body",
         "message": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False)
    ]


def error_summary(exc: BaseException) -> str:
    """An error for a log line or a dead-letter header. A pydantic ValidationError is told by its
    field paths and error types only: its own text quotes the input (a comment, a phone number)."""
    if isinstance(exc, ValidationError):
        fields = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['type']}"
                           for e in exc.errors(include_url=False, include_input=False, include_context=False))
        return f"ValidationError of {exc.title}: {fields}"
    return f"{type(exc).__name__}: {exc}"


class InvalidEvent(ValueError):
    """A received event that does not fit its contract; the message names fields and error types only."""


def invalid_from(exc: ValidationError, detail: str = "Некоректні дані") -> InvalidInput:
    return InvalidInput(detail, errors=field_errors(exc))


def parse_uuid(value, field: str):
    """``value`` as a UUID, or a typed ``InvalidInput`` naming ``field``."""
    import uuid

    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise InvalidInput(f"{field}: некоректний ідентифікатор",
                           errors=[{"field": field, "message": "очікується UUID"}]) from None


def parse(model, data):
    """Validate ``data`` against a pydantic model, raising a typed ``InvalidInput``."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_from(exc) from None


class DatabaseSilent(BaseException):
    """Raised inside a green thread whose statement heard nothing from PostgreSQL for
    ``DB_SILENCE_SECONDS`` (chassis.db.bound_silence). A BaseException on purpose: SQLAlchemy then
    invalidates the connection (its protocol state is unknown) instead of returning it to the pool;
    ``chassis.db.Db`` turns it into the typed :class:`Unavailable`."""
