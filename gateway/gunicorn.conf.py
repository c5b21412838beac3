"""gunicorn settings for the gateway (gthread workers whose event loop reads request heads: gateway/worker.py;
see docs/settings.md and docs/hardening.md)."""
import os
import shutil
import tempfile

bind = f"{os.environ.get('GATEWAY_HOST', '0.0.0.0')}:{os.environ.get('GATEWAY_PORT', '8000')}"
worker_class = "gateway.worker.HeadBufferingWorker"
workers = int(os.environ.get("GATEWAY_WORKERS", "2"))
threads = int(os.environ.get("GATEWAY_THREADS", "8"))
timeout = 60
# SIGTERM: stop accepting, let requests in hand finish for this long, then stop (the gateway drains).
graceful_timeout = int(float(os.environ.get("SHUTDOWN_GRACE_SECONDS", "20")))
accesslog = None  # the app logs every request as JSON, with its request id
# gunicorn's own lines (boot, worker exits, tracebacks of a failed worker) as the same JSON lines.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "chassis.log.json_formatter"}},
    "filters": {"context": {"()": "chassis.log.ContextFilter", "component": "gateway"}},
    "handlers": {"json": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                          "formatter": "json", "filters": ["context"]}},
    "root": {"level": "INFO", "handlers": ["json"]},
    "loggers": {"gunicorn.error": {"level": "INFO", "handlers": ["json"], "propagate": False},
                # the app logs every request itself (with its request id): no second access line
                "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False}},
}

# prometheus-client multiprocess mode: every worker writes its samples here, /metrics sums them.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="econsult-metrics-"))


def on_starting(server):
    path = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path, exist_ok=True)


def when_ready(server):
    """The workers' summed metrics on GATEWAY_METRICS_PORT, served by the master (off the public port)."""
    from chassis.settings import get_settings

    settings = get_settings()
    if settings.gateway_metrics_port:
        from gateway.metrics import serve

        try:
            serve(settings.ops_host, settings.gateway_metrics_port)
        except OSError as exc:  # another replica on this host holds the port: serve the API anyway
            server.log.error("gateway metrics port %s unavailable: %s", settings.gateway_metrics_port, exc)
            return
        server.log.info("gateway metrics on %s:%s", settings.ops_host, settings.gateway_metrics_port)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
