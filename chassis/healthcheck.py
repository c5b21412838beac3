"""``python -m chassis.healthcheck <service|gateway>``: the container health check of one instance.

* a service: its own ``/readyz`` on ``OPS_PORT`` (database, consumers) when ``OPS_PORT`` is set, so the
  answer is about *this* instance; without it (``make run``), the ``health`` RPC of any instance;
* ``gateway``: its ``/readyz`` (the bus) on ``GATEWAY_PORT``.

Exit 0 when healthy, else print why and exit 1. Standard library only on the ops path: it runs every
few seconds in every container.
"""
from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

TIMEOUT = 4.0


def probe(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as resp:
            return 0 if resp.status == 200 else 1
    except urllib.error.HTTPError as exc:
        print(f"{url}: {exc.code} {exc.read(500).decode(errors='replace')}")
    except Exception as exc:
        print(f"{url}: {type(exc).__name__}: {exc}")
    return 1


def rpc_health(service: str) -> int:
    import chassis.rpcerrors  # noqa: F401  (typed errors deserialise to their classes)
    from nameko.standalone.rpc import ClusterRpcProxy

    from chassis.settings import get_settings

    try:
        with ClusterRpcProxy({"AMQP_URI": get_settings().amqp_uri}, timeout=5) as rpc:
            reply = getattr(rpc, service).health()
    except Exception as exc:
        print(f"{service}: {type(exc).__name__}: {exc}")
        return 1
    if reply.get("status") != "ok":
        print(f"{service}: {reply}")
        return 1
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m chassis.healthcheck <service|gateway>")
        return 2
    if argv[0] == "gateway":
        return probe(f"http://127.0.0.1:{os.environ.get('GATEWAY_PORT', '8000')}/readyz")
    port = os.environ.get("OPS_PORT", "0")
    if port not in ("", "0"):
        return probe(f"http://127.0.0.1:{port}/readyz")
    return rpc_health(argv[0])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
