"""Errors as ``application/problem+json`` (RFC 9457), with the failing fields and a code the UI
can show. Every error path of the gateway ends here."""
from __future__ import annotations

import logging

from flask import Flask, Response, json
from pydantic import BaseModel, Field, ValidationError
from werkzeug.exceptions import HTTPException

from chassis.errors import ServiceError, field_errors
from chassis.log import current_request_id
from gateway.rpc import ServiceFailed, ServiceUnavailable

log = logging.getLogger(__name__)

PROBLEM_TYPE = "about:blank"
TITLES = {400: "Некоректний запит", 401: "Потрібен вхід", 403: "Заборонено", 404: "Не знайдено",
          405: "Метод не дозволений", 409: "Конфлікт", 413: "Запит завеликий",
          415: "Непідтримуваний тип даних", 422: "Некоректні дані", 429: "Забагато запитів",
          500: "Внутрішня помилка", 502: "Внутрішня помилка сервісу",
          503: "Сервіс тимчасово недоступний"}


class FieldError(BaseModel):
    field: str = Field(description="dotted path of the failing field, e.g. `body.title`")
    message: str
    type: str | None = None


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = PROBLEM_TYPE
    title: str
    status: int
    detail: str | None = None
    code: str = Field(description="stable machine-readable reason, e.g. `invalid_input`")
    errors: list[FieldError] = Field(default_factory=list)
    request_id: str | None = None


def problem(status: int, title: str, detail: str | None = None, code: str = "error",
            errors: list[dict] | None = None, headers: dict | None = None) -> Response:
    body = Problem(title=title, status=status, detail=detail, code=code, errors=errors or [],
                   request_id=current_request_id())
    return Response(json.dumps(body.model_dump(exclude_none=True), ensure_ascii=False),
                    status=status, mimetype="application/problem+json", headers=headers)


class RequestInvalid(Exception):
    """Raised while parsing a request: where (body/query/path) and pydantic's errors."""

    def __init__(self, location: str, exc: ValidationError | None = None, message: str = ""):
        super().__init__(message or location)
        self.location = location
        errs = field_errors(exc) if exc is not None else [{"field": location, "message": message}]
        if exc is not None:  # a field that is itself called `body` is still `body.body`
            for err, raw in zip(errs, exc.errors(include_url=False)):
                err["field"] = ".".join([location, *map(str, raw["loc"])])
        self.errors = errs


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(RequestInvalid)
    def _invalid(exc: RequestInvalid):
        return problem(422, "Некоректний запит", "Перевірте поля: "
                       + ", ".join(e["field"] for e in exc.errors), "invalid_input", exc.errors)

    @app.errorhandler(ServiceError)
    def _service_error(exc: ServiceError):
        retry = getattr(exc, "retry_after", None)
        return problem(exc.status, TITLES.get(exc.status, "Помилка"), exc.detail, exc.code, exc.errors,
                       headers={"Retry-After": str(retry)} if retry else None)

    @app.errorhandler(ServiceUnavailable)
    def _unavailable(exc: ServiceUnavailable):
        log.warning("service unavailable: %s", exc)
        return problem(503, "Сервіс тимчасово недоступний", f"{exc.service}: {exc.reason}",
                       "service_unavailable", headers={"Retry-After": "5"})

    @app.errorhandler(ServiceFailed)
    def _failed(exc: ServiceFailed):
        log.error("service %s failed: %s %s", exc.service, exc.error.exc_type, exc.error.value)
        return problem(502, "Внутрішня помилка сервісу", f"{exc.service}: внутрішня помилка",
                       "service_failed")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        status = exc.code or 500
        return problem(status, TITLES.get(status, exc.name), exc.description,
                       exc.name.lower().replace(" ", "_"))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return problem(500, "Внутрішня помилка", "Спробуйте пізніше", "internal_error")
