"""The gateway's Flask application factory."""
from __future__ import annotations

import logging
import re
import time

from flask import Flask, g, request

from chassis import tracing
from chassis.bus import reuse_publisher_connections
from chassis.log import configure_logging, new_request_id, set_request_id
from chassis.settings import Settings, get_settings, refuse_unsafe_outside_dev
from gateway import (abuse, api_keys, api_v1, docs, metrics, ops, routes_consultations, routes_files,
                     routes_identity, routes_moderation, routes_notifications, routes_open,
                     routes_reports, routes_webhooks)
from gateway import public_cache
from gateway.conditional import make_conditional
from gateway.openapi import ApiSpec
from gateway.problems import register_error_handlers
from gateway.rpc import RpcPool
from gateway.web import register as web_pages
from gateway.session_cache import Listener, SessionCache

log = logging.getLogger("gateway.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
API_VERSION = "0.1.0"

def build_spec() -> ApiSpec:
    return ApiSpec(
        title="Електронні консультації з громадськістю — API",
        version=API_VERSION,
        description="Public HTTP API of the e-consultations service. Errors are "
                    "application/problem+json (RFC 9457). Every response carries X-Request-ID.")


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or get_settings()
    refuse_unsafe_outside_dev(settings)
    configure_logging("gateway", settings.log_level)
    reuse_publisher_connections()

    app = Flask(__name__)
    app.config["SETTINGS"] = settings
    app.json.ensure_ascii = False
    app.config["MAX_CONTENT_LENGTH"] = int(settings.max_attachment_mb * 1024 * 1024) + 64 * 1024
    app.extensions["rpc"] = RpcPool(settings.amqp_uri, settings.rpc_timeout)
    if settings.session_cache_seconds > 0:
        cache = app.extensions["session_cache"] = SessionCache(settings.session_cache_seconds)
        app.extensions["session_listener"] = Listener(cache, settings.amqp_uri, settings.amqp_heartbeat).start()

    spec = build_spec()
    spec.dev_login = settings.auth_dev_login
    spec.key_scopes = api_keys.SCOPES
    app.register_blueprint(ops.register(spec))
    app.register_blueprint(api_v1.register(spec))
    app.register_blueprint(routes_identity.register(spec))
    app.register_blueprint(routes_consultations.register(spec))
    app.register_blueprint(routes_files.register(spec))
    app.register_blueprint(routes_open.register(spec))
    app.register_blueprint(routes_moderation.register(spec))
    app.register_blueprint(routes_notifications.register(spec))
    app.register_blueprint(routes_reports.register(spec))
    app.register_blueprint(routes_webhooks.register(spec))
    app.register_blueprint(docs.register())
    app.register_blueprint(web_pages())  # the web pages at /, outside /openapi.json
    app.extensions["openapi"] = spec.document()
    public_cache.install(app, {op.rule for op in spec.operations if op.method == "GET" and op.auth == "public"})
    register_error_handlers(app)
    if tracing.setup("gateway"):
        from opentelemetry.instrumentation.flask import FlaskInstrumentor
        from opentelemetry.instrumentation.requests import RequestsInstrumentor

        FlaskInstrumentor().instrument_app(app, excluded_urls="healthz,readyz")
        RequestsInstrumentor().instrument()

    @app.before_request
    def _start():
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else new_request_id()
        set_request_id(g.request_id)
        g.started = time.perf_counter()
        metrics.IN_FLIGHT.inc()
        g.in_flight = True

    @app.before_request
    def _kept():
        return public_cache.serve_kept(request)  # an anonymous public read this worker still holds

    @app.after_request
    def _finish(response):
        took = time.perf_counter() - g.get("started", time.perf_counter())
        route = request.url_rule.rule if request.url_rule else "<unmatched>"
        response.headers["X-Request-ID"] = g.get("request_id", "")
        response = make_conditional(request, response)
        metrics.HTTP_REQUESTS.labels(request.method, route, response.status_code).inc()
        metrics.HTTP_SECONDS.labels(request.method, route).observe(took)
        log.info("%s %s %s %.1f ms", request.method, route, response.status_code, took * 1000,
                 extra={"method": request.method, "route": route,
                        "status": response.status_code, "ms": round(took * 1000, 1)})
        return response

    api_keys.install(app)  # before the abuse limits: a key on a write is refused first
    abuse.install(app, settings)  # after _start: limits and headers see the request id

    @app.teardown_request
    def _clear(_exc):
        if g.pop("in_flight", False):
            metrics.IN_FLIGHT.dec()
        set_request_id(None)

    return app
