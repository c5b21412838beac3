"""nameko dependency that puts the caller's request id on every log line of a worker and logs
each entrypoint call with its outcome and duration."""
from __future__ import annotations

import logging
import time

from nameko.extensions import DependencyProvider
from nameko.timer import Timer

from chassis import metrics, tracing
from chassis.log import new_request_id, set_request_id

log = logging.getLogger("chassis.worker")


class RequestContext(DependencyProvider):
    def __init__(self):
        self._started: dict = {}

    def setup(self):
        metrics.set_service(self.container.service_name)

    def start(self):
        metrics.register_timers(self.container)

    def worker_setup(self, worker_ctx):
        set_request_id(worker_ctx.data.get("request_id") or new_request_id())
        tracing.worker_started(worker_ctx)
        self._started[worker_ctx] = time.perf_counter()

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        seconds = time.perf_counter() - self._started.pop(worker_ctx, time.perf_counter())
        took = seconds * 1000
        name = worker_ctx.entrypoint.method_name
        metrics.observe_entrypoint(worker_ctx.entrypoint, seconds, exc_info)
        if exc_info is None:
            # A timer tick is routine (a tick that did something logs that itself): DEBUG, so an idle
            # instance writes nothing at INFO.
            level = logging.DEBUG if isinstance(worker_ctx.entrypoint, Timer) else logging.INFO
            log.log(level, "%s done in %.1f ms", name, took, extra={"entrypoint": name, "ms": round(took, 1)})
        else:
            log.info("%s failed in %.1f ms: %s: %s", name, took, exc_info[0].__name__, exc_info[1],
                     extra={"entrypoint": name, "ms": round(took, 1)})
        tracing.worker_finished(worker_ctx, exc_info)  # after the outcome's log line: it carries the trace id

    def worker_teardown(self, worker_ctx):
        set_request_id(None)

    def get_dependency(self, worker_ctx):
        return worker_ctx.data.get("request_id")
