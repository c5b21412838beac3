"""Operations endpoints: liveness (the process), readiness (the bus; with ``?services=all`` also
every service). Metrics are off the public port: ``GATEWAY_METRICS_PORT`` (gateway/metrics.py).

A gateway replica's readiness is the bus only: a service that is down answers 503 on its own routes
(naming it), and must not take every gateway replica out of the load balancer with it.
``/readyz?services=all`` is the whole system's check (``make run``, tests, an operator's glance)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from flask import current_app, request
from kombu import Connection
from pydantic import BaseModel, Field

from chassis.settings import SERVICES
from gateway.openapi import ApiSpec
from gateway.problems import problem
from gateway.rpc import ServiceFailed, ServiceUnavailable

READY_TIMEOUT = 3.0


class Liveness(BaseModel):
    status: str = Field("ok", description="the gateway process answers")


class ServiceCheck(BaseModel):
    status: str = Field(description="ok, or why not")
    outbox_waiting: int | None = Field(None, description="committed events not yet on the bus")


class Readiness(BaseModel):
    status: str = "ready"
    checks: dict[str, ServiceCheck]


def check_bus(amqp_uri: str) -> str:
    try:
        with Connection(amqp_uri, connect_timeout=READY_TIMEOUT) as conn:
            conn.connect()
        return "ok"
    except Exception as exc:
        return f"недоступна: {type(exc).__name__}"


def check_service(pool, service: str) -> ServiceCheck:
    try:
        reply = pool.call(service, "health", timeout=READY_TIMEOUT)
        return ServiceCheck(status=reply.get("status", "?"), outbox_waiting=reply.get("outbox_waiting"))
    except (ServiceUnavailable, ServiceFailed) as exc:
        return ServiceCheck(status=getattr(exc, "reason", str(exc)))
    except Exception as exc:  # a typed error from health means its database is wrong
        return ServiceCheck(status=f"{type(exc).__name__}: {exc}")


def register(spec: ApiSpec):
    bp = spec.blueprint("ops")

    @bp.route("/healthz", summary="Liveness: the gateway process answers (no RPC)",
              response=Liveness, tags=["operations"])
    def healthz():
        return Liveness()

    @bp.route("/readyz", summary="Readiness of this gateway: the bus answers "
              "(`?services=all`: also all five services answer `health`)",
              response=Readiness, tags=["operations"], errors=(503,))
    def readyz():
        pool = current_app.extensions["rpc"]
        services = SERVICES if request.args.get("services") == "all" else ()
        with ThreadPoolExecutor(len(services) + 1) as ex:
            bus = ex.submit(check_bus, current_app.config["SETTINGS"].amqp_uri)
            checks = dict(zip(services, ex.map(lambda s: check_service(pool, s), services)))
        checks = {"bus": ServiceCheck(status=bus.result()), **checks}
        down = [name for name, c in checks.items() if c.status != "ok"]
        if down:
            resp = problem(503, "Система не готова", "Не відповідають: " + ", ".join(down),
                           "not_ready", [{"field": n, "message": checks[n].status} for n in down])
            resp.headers["Retry-After"] = "5"
            return resp
        return Readiness(checks=checks)

    @bp.route("/readyz/<service>", summary="Readiness of one service (a single RPC round trip)",
              response=ServiceCheck, tags=["operations"], errors=(404, 503))
    def readyz_service(service: str):
        if service not in SERVICES:
            return problem(404, "Не знайдено", f"немає сервісу {service}", "not_found")
        check = check_service(current_app.extensions["rpc"], service)
        if check.status != "ok":
            return problem(503, "Сервіс не готовий", f"{service}: {check.status}", "not_ready")
        return check

    return bp
