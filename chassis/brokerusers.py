"""Broker users and what each may touch (docs/kubernetes.md, "Broker users").

RabbitMQ grants per vhost three regular expressions over resource names: *configure* (declare,
delete), *write* (publish to an exchange; bind a queue, i.e. write to it) and *read* (consume from a
queue; bind from an exchange). The resources here are nameko's and ours:

* ``nameko-rpc``: the one RPC exchange. Every caller and every service writes to it (requests, and
  replies routed by the caller's reply id), so any user holding it may call any service's RPC: RPC
  is the services' API, and each method checks its caller's rights itself.
* ``rpc-<service>`` (its RPC requests), ``rpc.reply-<caller>-<uuid>`` (a caller's replies; the
  gateway's nameko standalone proxy calls itself ``standalone_rpc_proxy``).
* ``<service>.events``: only its owner may write (publish) to it; subscribers read (bind) from it.
* ``evt-<source>-<type>--<service>.<method>`` and its ``.retry``/``.dead``: a subscriber's own
  queues, reached for re-routing only through its own ``<service>.retry`` exchange. No one but the
  topology administrator may write to the default exchange (``amq.default``), which would reach
  every queue by name, so a service cannot drop a forged event straight into another's queue.

The topology job's administrator (``econsult-admin``) declares everything before a rollout; a
service's user may only (re)declare its own queues and the exchanges nameko declares with them.
"""
from __future__ import annotations

import argparse
import json
import os
import re
from dataclasses import dataclass

from chassis.settings import SERVICES

ADMIN = "econsult-admin"
GATEWAY = "gateway"
MONITOR = "keda"
STANDALONE_PROXY = "standalone_rpc_proxy"
NAME = "[a-z][a-z0-9_]*"
UUID = "[0-9a-f-]{36}"
CITY_PREFIX = "city-"


@dataclass(frozen=True)
class Grant:
    user: str
    configure: str
    write: str
    read: str
    tags: str = ""


def _any(*alternatives: str) -> str:
    return "^(" + "|".join(alternatives) + ")$"


def _own_queues(service: str) -> list[str]:
    svc = re.escape(service)
    return [f"rpc-{svc}", rf"rpc\.reply-{svc}-{UUID}", rf"evt-{NAME}-{NAME}--{svc}\.{NAME}(\.retry|\.dead)?"]


def sources_of(service: str) -> list[str]:
    """The services whose events ``service`` subscribes to (from the code's subscriptions)."""
    from chassis.app import service_class
    from chassis.topology import subscriptions_of

    return sorted({b.source for b in subscriptions_of(service_class(service))})


def service_grant(service: str, sources: list[str] | None = None) -> Grant:
    sources = sources_of(service) if sources is None else sources
    svc = re.escape(service)
    source_exchanges = [rf"{re.escape(s)}\.events" for s in sources]
    own = _own_queues(service)
    return Grant(
        user=service,
        # nameko declares its queues together with the exchanges they are bound to
        configure=_any("nameko-rpc", *own, *source_exchanges),
        write=_any("nameko-rpc", rf"{svc}\.events", rf"{svc}\.retry", *own),
        read=_any("nameko-rpc", *own, *source_exchanges),
    )


def gateway_grant() -> Grant:
    """RPC, and each worker's session-cache queue bound to ``registry.events`` (gateway.session_cache)."""
    reply = rf"rpc\.reply-{STANDALONE_PROXY}-{UUID}"
    sessions = rf"gateway-sessions-{UUID}"
    return Grant(user=GATEWAY, configure=_any("nameko-rpc", reply, sessions),
                 write=_any("nameko-rpc", reply, sessions),
                 read=_any("nameko-rpc", reply, sessions, r"registry\.events"))


def city_grant(name: str) -> Grant:
    """A city system's read-only user: its own queues ``city-<name>.*``, bound to any ``*.events``."""
    if not re.fullmatch(NAME, name):
        raise ValueError("a city system's name: lower-case letters, digits, underscores")
    own = rf"{CITY_PREFIX}{name}\.{NAME}"
    return Grant(user=f"{CITY_PREFIX}{name}", configure=_any(own), write=_any(own),
                 read=_any(own, rf"{NAME}\.events"))


def admin_grant() -> Grant:
    return Grant(user=ADMIN, configure=".*", write=".*", read=".*", tags="administrator")


def monitor_grant() -> Grant:
    """KEDA's scalers read queue depths through the management API; they touch no resource."""
    return Grant(user=MONITOR, configure="^$", write="^$", read="^$", tags="monitoring")


def grants(cities: list[str] = ()) -> list[Grant]:
    return [admin_grant(), gateway_grant(), *(service_grant(s) for s in SERVICES), monitor_grant(),
            *(city_grant(c) for c in cities)]


def definitions(vhost: str, passwords: dict[str, str], cities: list[str] = ()) -> dict:
    """RabbitMQ definitions (the format of ``rabbitmqctl import_definitions``, the management API's
    ``POST /api/definitions`` and ``load_definitions``): the vhost, every user and its permissions."""
    gs = grants(cities)
    return {
        "vhosts": [{"name": vhost}],
        "users": [{"name": g.user, "password": passwords[g.user], "tags": g.tags} for g in gs],
        "permissions": [{"user": g.user, "vhost": vhost, "configure": g.configure, "write": g.write,
                         "read": g.read} for g in gs],
    }


def main(argv: list[str] | None = None) -> None:
    """Print the definitions as JSON, passwords from ``$BROKER_PASSWORD_<USER>`` (e.g. ``KEDA``,
    ``ECONSULT_ADMIN``, ``CITY_OPENDATA``), to load with ``rabbitmqctl import_definitions``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vhost", default="econsult")
    parser.add_argument("--city", action="append", default=[], help="a city system's read-only user")
    args = parser.parse_args(argv)
    users = [g.user for g in grants(args.city)]
    env = {u: "BROKER_PASSWORD_" + re.sub("[^A-Z0-9]", "_", u.upper()) for u in users}
    missing = [name for name in env.values() if not os.environ.get(name)]
    if missing:
        raise SystemExit(f"set {', '.join(missing)}")
    print(json.dumps(definitions(args.vhost, {u: os.environ[env[u]] for u in users}, args.city), indent=2))


if __name__ == "__main__":
    main()
