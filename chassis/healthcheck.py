"""``python -m chassis.healthcheck <service>``: exit 0 when the service answers ``health`` with
status ok (compose health checks use it), else print why and exit 1."""
from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m chassis.healthcheck <service>")
        return 2
    import chassis.errors  # noqa: F401  (typed errors deserialise to their classes)
    from nameko.standalone.rpc import ClusterRpcProxy

    from chassis.settings import get_settings

    try:
        with ClusterRpcProxy({"AMQP_URI": get_settings().amqp_uri}, timeout=5) as rpc:
            reply = getattr(rpc, argv[0]).health()
    except Exception as exc:
        print(f"{argv[0]}: {type(exc).__name__}: {exc}")
        return 1
    if reply.get("status") != "ok":
        print(f"{argv[0]}: {reply}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
