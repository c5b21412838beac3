"""Per-instance operations endpoints of one service process, on ``OPS_PORT`` (never the public port).

* ``GET /livez``   200 while the process's event loop answers (a wedged hub does not answer at all).
* ``GET /readyz``  200 when every registered readiness check of *this* instance passes, else 503
  with a JSON body naming the failing checks. Dependencies register their own checks with
  :func:`add_check` (the database, the consumers' broker connection, ...).
* ``GET /metrics`` Prometheus text exposition of the process's default registry.

RPC ``health`` cannot say which instance answered (any instance may take the call), so probes of a
single instance (compose health checks, Kubernetes liveness/readiness) use these endpoints.
``OPS_PORT=0`` (the default for ``make run`` and tests) starts no server.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable

from nameko.extensions import DependencyProvider

log = logging.getLogger(__name__)

# check name -> callable returning None when fine, or a short reason (no personal data) when not.
Check = Callable[[], "str | None"]
_CHECKS: dict[str, Check] = {}


def add_check(name: str, check: Check) -> None:
    _CHECKS[name] = check


def remove_check(name: str) -> None:
    _CHECKS.pop(name, None)


def run_checks() -> dict[str, str]:
    """Each check's outcome: ``"ok"`` or its reason. A check that raises fails with its type."""
    out = {}
    for name, check in list(_CHECKS.items()):
        try:
            reason = check()
        except Exception as exc:  # a probe must answer, whatever the check did
            reason = f"{type(exc).__name__}"
        out[name] = "ok" if reason is None else str(reason)
    return out


def _json(start_response, status: str, body: dict) -> list[bytes]:
    data = json.dumps(body, ensure_ascii=False).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def ops_app(service: str):
    """The WSGI app (a plain function, so tests can call it without a socket)."""

    def app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/livez":
            return _json(start_response, "200 OK", {"service": service, "status": "ok"})
        if path == "/readyz":
            checks = run_checks()
            ok = all(v == "ok" for v in checks.values())
            return _json(start_response, "200 OK" if ok else "503 Service Unavailable",
                         {"service": service, "status": "ready" if ok else "not_ready", "checks": checks})
        if path == "/metrics":
            from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

            data = generate_latest(REGISTRY)
            start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST), ("Content-Length", str(len(data)))])
            return [data]
        return _json(start_response, "404 Not Found", {"status": "not_found"})

    return app


class OpsEndpoints(DependencyProvider):
    """nameko dependency that serves :func:`ops_app` beside the service's workers."""

    def __init__(self):
        self.sock = None

    def start(self):
        from chassis.settings import get_settings

        settings = get_settings()
        if not settings.ops_port:
            return
        import eventlet
        import eventlet.wsgi

        self.sock = eventlet.listen((settings.ops_host, settings.ops_port))
        app = ops_app(self.container.service_name)
        quiet = logging.getLogger("chassis.ops_http.wsgi")

        def serve():
            eventlet.wsgi.server(self.sock, app, log=quiet, log_output=False, socket_timeout=10)

        self.container.spawn_managed_thread(serve, identifier="ops-http")
        log.info("operations endpoints on %s:%s", settings.ops_host, settings.ops_port)

    def stop(self):
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None

    def kill(self):
        self.stop()

    def get_dependency(self, worker_ctx):
        return None
