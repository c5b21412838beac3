"""Run one service: ``python -m chassis.run <service>``.

Sets ``PSYCOPG_WAIT_FUNC=wait_selector`` before psycopg is imported (psycopg's
C wait function blocks eventlet's hub), monkey-patches eventlet, logs JSON, declares the topology,
then runs it under nameko's runner (chassis.lifecycle: readiness gate; SIGTERM or Ctrl-C stops
gracefully within SHUTDOWN_GRACE_SECONDS).
"""
import os
import sys

os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_selector")

import eventlet  # noqa: E402

eventlet.monkey_patch()


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        sys.exit("usage: python -m chassis.run <service>")
    import logging

    from chassis import lifecycle
    from chassis.app import all_service_classes, service_class
    from chassis.bus import reuse_publisher_connections
    from chassis.faults import refuse_in_production
    from chassis.log import configure_logging
    from chassis.rpcreply import install as keep_serving_when_a_reply_fails
    from chassis.settings import get_settings, refuse_unsafe_outside_dev
    from chassis.topology import declare_if_allowed, rpc_queues_typed

    service = argv[0]
    settings = get_settings()
    refuse_in_production(settings.app_env, settings.fault_point)
    refuse_unsafe_outside_dev(settings)
    configure_logging(service, settings.log_level)
    keep_serving_when_a_reply_fails()
    reuse_publisher_connections()
    rpc_queues_typed()
    cls = service_class(service)
    declare_if_allowed(settings.amqp_uri, {*all_service_classes(), cls})
    logging.getLogger("chassis.run").info(
        "starting service %s (psycopg wait function: %s)", service, os.environ["PSYCOPG_WAIT_FUNC"])
    code = lifecycle.serve(cls, settings.nameko_config(), settings.shutdown_grace_seconds)
    exit_now(code)


def exit_now(code: int) -> None:
    """End the process as soon as the service has stopped: run the exit handlers (log handlers
    flushed, spans exported), flush stdout and stderr, and leave without the interpreter's
    finalization. That finalization runs full garbage collections over the whole heap (nameko,
    SQLAlchemy, psycopg, OpenTelemetry and Prometheus loaded): seconds on a busy machine, after the
    grace period that is meant to bound a stop. Everything the service holds was released by its
    stop."""
    import atexit

    atexit._run_exitfuncs()  # noqa: SLF001
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed or gone: nothing more to write
            pass
    os._exit(code)


if __name__ == "__main__":
    main(sys.argv[1:])
