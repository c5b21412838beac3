"""A pooled, thread-safe RPC client for the gateway's request threads.

nameko's standalone ``ClusterRpcProxy`` is single-threaded, so each request
thread borrows one long-lived proxy from the pool and returns it afterwards; a proxy that saw a
transport error or a timeout is thrown away and a fresh one is built on the next borrow.
The caller's request id travels in the nameko context data, so every service logs it too.

A request whose instance was killed before it acknowledged it comes back to the next instance
marked redelivered and is refused ``request_interrupted`` (chassis.rpcreply: RPC is at most once).
For a safe HTTP request (GET, HEAD) nothing was changed, so :meth:`RpcPool.call` asks once more.
"""
from __future__ import annotations

import logging
import queue
import time

from nameko.exceptions import RemoteError, RpcTimeout, UnknownService
from nameko.standalone.rpc import ClusterRpcProxy
from prometheus_client import Counter, Histogram

from chassis import rpcerrors, tracing  # noqa: F401  (rpcerrors: the services' typed errors arrive typed)
from chassis.errors import ServiceError, Unavailable
from chassis.log import current_request_id

log = logging.getLogger(__name__)

RPC_SECONDS = Histogram("gateway_rpc_duration_seconds", "RPC round trips from the gateway",
                        ["service", "method", "outcome"],
                        buckets=(.002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
POOL_BORROW_SECONDS = Histogram("gateway_rpc_pool_borrow_duration_seconds", "Getting an RPC proxy from the pool "
                                "(an idle one, or a new connection when none is idle)",
                                buckets=(.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5))
POOL_CREATED = Counter("gateway_rpc_pool_proxies_created_total", "RPC proxies built because none was idle "
                       "(each a new AMQP connection and reply queue)")


class ServiceUnavailable(Exception):
    """A service (or the bus) did not answer in time: the gateway answers 503."""

    def __init__(self, service: str, reason: str):
        super().__init__(f"{service}: {reason}")
        self.service, self.reason = service, reason


class ServiceFailed(Exception):
    """A service raised an unexpected error: the gateway answers 502."""

    def __init__(self, service: str, error: RemoteError):
        super().__init__(f"{service}: {error.exc_type}")
        self.service, self.error = service, error


class RpcPool:
    def __init__(self, amqp_uri: str, timeout: float):
        self.config = {"AMQP_URI": amqp_uri}
        self.timeout = timeout
        self._idle: queue.LifoQueue = queue.LifoQueue()

    def _borrow(self, timeout: float) -> ClusterRpcProxy:
        started = time.perf_counter()
        try:
            runner = self._idle.get_nowait()
        except queue.Empty:
            POOL_CREATED.inc()
            runner = ClusterRpcProxy(self.config, context_data={}, timeout=timeout)
            runner.start()
        finally:
            POOL_BORROW_SECONDS.observe(time.perf_counter() - started)
        runner._reply_listener.queue_consumer.timeout = timeout  # noqa: SLF001 (per-call timeout)
        return runner

    def _discard(self, runner: ClusterRpcProxy) -> None:
        try:
            runner.stop()
        except Exception:
            log.debug("stopping a broken RPC proxy failed", exc_info=True)

    def call(self, service: str, method: str, *args, timeout: float | None = None, **kwargs):
        """Call ``service.method(*args, **kwargs)``; typed service errors pass through unchanged.
        Inside a safe HTTP request, a call interrupted by a dying instance is made once more."""
        try:
            with tracing.rpc_client_span(service, method):
                return self._call(service, method, *args, timeout=timeout, **kwargs)
        except Unavailable as exc:
            if exc.code != "request_interrupted" or not _safe_request():
                raise
            log.info("%s.%s interrupted by a stopping instance; asking once more", service, method)
        with tracing.rpc_client_span(service, method):
            return self._call(service, method, *args, timeout=timeout, **kwargs)

    def _call(self, service: str, method: str, *args, timeout: float | None = None, **kwargs):
        timeout = timeout or self.timeout
        started = time.perf_counter()
        outcome = "ok"
        try:
            runner = self._borrow(timeout)
        except Exception as exc:
            RPC_SECONDS.labels(service, method, "bus_down").observe(time.perf_counter() - started)
            raise ServiceUnavailable(service, f"шина повідомлень недоступна ({type(exc).__name__})") from exc
        healthy = False
        try:
            data = runner._proxy._worker_ctx.data  # noqa: SLF001
            data["request_id"] = current_request_id()
            if tracing.enabled():
                data[tracing.TRACEPARENT] = tracing.current_traceparent()
            result = getattr(getattr(runner._proxy, service), method)(*args, **kwargs)  # noqa: SLF001
            healthy = True
            return result
        except ServiceError:
            healthy, outcome = True, "error"
            raise
        except RemoteError as exc:
            healthy, outcome = True, "failed"
            raise ServiceFailed(service, exc) from exc
        except RpcTimeout as exc:
            outcome = "timeout"
            raise ServiceUnavailable(service, f"не відповів за {timeout:g} с") from exc
        except UnknownService as exc:
            healthy, outcome = True, "unknown"
            raise ServiceUnavailable(service, "не запущений") from exc
        except Exception as exc:
            outcome = "bus_error"
            raise ServiceUnavailable(service, f"помилка шини ({type(exc).__name__})") from exc
        finally:
            RPC_SECONDS.labels(service, method, outcome).observe(time.perf_counter() - started)
            if healthy:
                self._idle.put(runner)
            else:
                self._discard(runner)

    def close(self) -> None:
        while True:
            try:
                self._discard(self._idle.get_nowait())
            except queue.Empty:
                return


def _safe_request() -> bool:
    from flask import has_request_context, request

    return has_request_context() and request.method in ("GET", "HEAD")
