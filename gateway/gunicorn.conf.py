"""gunicorn settings for the gateway (gthread workers whose event loop reads request heads: gateway/worker.py;
see README, "Settings", and docs/hardening.md)."""
import os
import shutil
import tempfile

bind = f"{os.environ.get('GATEWAY_HOST', '0.0.0.0')}:{os.environ.get('GATEWAY_PORT', '8000')}"
worker_class = "gateway.worker.HeadBufferingWorker"
workers = int(os.environ.get("GATEWAY_WORKERS", "2"))
threads = int(os.environ.get("GATEWAY_THREADS", "8"))
timeout = 60
graceful_timeout = 10
accesslog = None  # the app logs every request as JSON, with its request id

# prometheus-client multiprocess mode: every worker writes its samples here, /metrics sums them.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="econsult-metrics-"))


def on_starting(server):
    path = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path, exist_ok=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
