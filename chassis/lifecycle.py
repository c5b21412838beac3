"""A service instance's life in a container: readiness that tells the truth, and a graceful stop.

Readiness (:class:`ReadinessGate`, a dependency of every service): every
``READINESS_INTERVAL_SECONDS`` the instance runs its readiness checks (``chassis.ops_http``: the
database, and ``consumers``: its broker connection is up and its consumer loop turns). While any
fails, the instance cancels its RPC consumer, so the broker hands RPC requests to the instances that
can serve them instead of to one that would answer 503 (or hang) for a share of every caller's
requests; when the checks pass again it consumes again. Events need no gate: their handlers retry
outages through ``<queue>.retry`` (chassis.consumer).

Graceful stop (:func:`serve`): SIGTERM or SIGINT stops the entrypoints (no new messages; unacked
ones go back to the queue for another instance), lets in-flight workers finish for up to
``SHUTDOWN_GRACE_SECONDS``, kills what is left, logs "stopping" and "stopped after N workers" and
exits 0.
"""
from __future__ import annotations

import errno
import logging
import signal
import time

import eventlet
from eventlet.event import Event
from nameko.extensions import DependencyProvider
from nameko.messaging import QueueConsumer
from nameko.rpc import RpcConsumer
from nameko.runners import ServiceRunner

from chassis.ops_http import add_check, run_checks

log = logging.getLogger(__name__)

STALL_SECONDS = 15.0  # the consumer loop turns at least once a second while connected


class _Consumers:
    """What the patched QueueConsumer reports: connected, loop turning, RPC wanted or not."""

    connected = False
    last_turn = 0.0
    rpc_paused = False
    lost_reason = "not connected yet"


STATE = _Consumers()


def install() -> None:
    """Patch nameko's QueueConsumer to report its connection and honour the RPC gate (once)."""
    if getattr(QueueConsumer.on_iteration, "_econsult", False):
        return
    on_iteration, on_consume_ready = QueueConsumer.on_iteration, QueueConsumer.on_consume_ready
    on_connection_error = QueueConsumer.on_connection_error

    def turn(self):
        on_iteration(self)
        STATE.last_turn = time.monotonic()
        for provider, consumer in list(self._consumers.items()):  # noqa: SLF001
            if not isinstance(provider, RpcConsumer):
                continue
            active = bool(consumer._active_tags)  # noqa: SLF001
            if STATE.rpc_paused and active:
                consumer.cancel()
                log.warning("not ready: RPC consumer paused (other instances serve requests)")
            elif not STATE.rpc_paused and not active:
                consumer.consume()
                log.info("ready again: RPC consumer resumed")

    def ready(self, connection, channel, consumers, **kwargs):
        STATE.connected, STATE.last_turn = True, time.monotonic()
        return on_consume_ready(self, connection, channel, consumers, **kwargs)

    def lost(self, exc, interval):
        STATE.connected, STATE.lost_reason = False, f"broker connection lost: {type(exc).__name__}"
        return on_connection_error(self, exc, interval)

    turn._econsult = True
    QueueConsumer.on_iteration, QueueConsumer.on_consume_ready = turn, ready
    QueueConsumer.on_connection_error = lost


def consumers_check() -> str | None:
    if not STATE.connected:
        return STATE.lost_reason
    stalled = time.monotonic() - STATE.last_turn
    if stalled > STALL_SECONDS:
        return f"consumer loop silent for {stalled:.0f} s"
    return None


class ReadinessGate(DependencyProvider):
    """Runs the readiness checks on a timer and pauses RPC consumption while any fails."""

    def __init__(self, interval: float | None = None):
        self.interval = interval
        self.running = False

    def setup(self):
        install()

    def start(self):
        from chassis.settings import get_settings

        interval = self.interval or get_settings().readiness_interval_seconds
        add_check("consumers", consumers_check)
        self.running = True
        self.container.spawn_managed_thread(lambda: self._watch(interval), identifier="readiness-gate")

    def _watch(self, interval: float) -> None:
        failing: dict[str, str] = {}
        while self.running:
            eventlet.sleep(interval)
            with eventlet.Timeout(max(interval, 3.0), False):
                checks = run_checks()
                now_failing = {k: v for k, v in checks.items() if v != "ok"}
                if now_failing != failing:
                    if now_failing:
                        log.warning("readiness checks fail: %s", now_failing)
                    else:
                        log.info("readiness checks pass again")
                failing = now_failing
                STATE.rpc_paused = bool(failing)

    def stop(self):
        self.running = False

    def kill(self):
        self.running = False

    def get_dependency(self, worker_ctx):
        return None


def serve(cls, config: dict, grace_seconds: float) -> int:
    """Run one service class until SIGTERM/SIGINT, then stop gracefully; returns the exit code."""
    runner = ServiceRunner(config)
    runner.add_service(cls)
    stop_requested = Event()

    def on_signal(signum, _frame):
        # signal handlers run in the hub's main loop: hand over to a green thread
        if not stop_requested.ready():
            eventlet.spawn_n(stop_requested.send, signal.Signals(signum).name)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    runner.start()
    container = list(runner.containers)[0]
    runnlet = eventlet.spawn(runner.wait)
    died = []

    def watch_runner():
        try:
            runnlet.wait()
        except Exception as exc:  # the container crashed; nameko logged why
            died.append(exc)
        if not stop_requested.ready():
            stop_requested.send("runner exited")

    watcher = eventlet.spawn(watch_runner)
    while True:
        try:
            reason = stop_requested.wait()
            break
        except OSError as exc:  # a signal interrupting the hub's wait (as nameko's runner tolerates)
            if exc.errno != errno.EINTR:
                raise
    if reason == "runner exited":
        return 1 if died else 0
    watcher.kill()
    in_flight = len(container._worker_threads)  # noqa: SLF001
    log.info("stopping (%s): %d workers in flight, grace %g s", reason, in_flight, grace_seconds,
             extra={"workers": in_flight})
    started = time.monotonic()
    stopper = eventlet.spawn(runner.stop)
    finished = False
    with eventlet.Timeout(grace_seconds, False):
        stopper.wait()
        finished = True
    if not finished:
        left = len(container._worker_threads)  # noqa: SLF001
        log.warning("grace of %g s over: killing %d unfinished workers (their messages are redelivered)",
                    grace_seconds, left, extra={"workers": left})
        runner.kill()
        in_flight -= left
    log.info("stopped after %d workers in %.1f s", in_flight, time.monotonic() - started,
             extra={"workers": in_flight})
    return 0
