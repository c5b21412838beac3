"""One webhook POST, safely (OWASP SSRF prevention): the receiver's name is resolved here and every
address it resolves to is checked (no loopback, link-local, private, shared, multicast, reserved or
configured cluster ranges); the connection then goes to that checked address (the name is kept for
TLS and ``Host``), so a second DNS answer cannot swap it. https only in production, no redirects
followed, a connect timeout and a bound on the whole exchange, the answer read up to a cap.
Connections are kept alive per receiver and checked address (one pool each)."""
from __future__ import annotations

import ipaddress
import socket
import time
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3

from chassis.settings import Settings

EXCERPT = 500


class Refused(ValueError):
    """The URL may not be called; ``str()`` says why (in English, for logs and the attempt log)."""


def allow_loopback(settings: Settings) -> bool:
    return settings.webhook_allow_loopback and settings.app_env != "production"


def refuse_in_production(settings: Settings) -> None:
    if settings.webhook_allow_loopback and settings.app_env == "production":
        raise RuntimeError("WEBHOOK_ALLOW_LOOPBACK is for development and tests; unset it when APP_ENV=production")


def _blocked_networks(settings: Settings) -> list:
    return [ipaddress.ip_network(c.strip(), strict=False) for c in settings.webhook_blocked_cidrs.split(",")
            if c.strip()]


def check_address(ip: str, settings: Settings) -> None:
    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    for net in _blocked_networks(settings):  # configured ranges first: the test allowance never lifts them
        if addr.version == net.version and addr in net:
            raise Refused(f"{addr} is in the blocked range {net}")
    if addr.is_loopback:
        if allow_loopback(settings):
            return
        raise Refused(f"{addr} is a loopback address")
    for what, bad in (("link-local", addr.is_link_local), ("private", addr.is_private),
                      ("multicast", addr.is_multicast), ("reserved", addr.is_reserved),
                      ("unspecified", addr.is_unspecified), ("not global", not addr.is_global)):
        if bad:
            raise Refused(f"{addr} is a {what} address")


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


def check_url(url: str, settings: Settings, resolve: bool = True) -> Target:
    """Parse and check ``url``; resolve its host and check every address (raises :class:`Refused`)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Refused(f"not a URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise Refused("the URL must be https")
    if scheme == "http" and not allow_loopback(settings):
        raise Refused("the URL must be https")
    if not parts.hostname or parts.username or parts.password:
        raise Refused("the URL needs a host and no user or password")
    port = port or (443 if scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not resolve:
        return Target(scheme, parts.hostname, port, path, ())
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Refused(f"the host does not resolve: {exc}") from None
    addresses = tuple(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise Refused("the host does not resolve")
    for ip in addresses:
        check_address(ip, settings)
    return Target(scheme, parts.hostname, port, path, addresses)


@dataclass
class Answer:
    status: int | None
    latency_ms: int
    excerpt: str
    error: str | None


_POOLS: "OrderedDict[tuple, urllib3.HTTPConnectionPool]" = OrderedDict()
MAX_POOLS = 256


def _pool_for(target: Target, ip: str, settings: Settings) -> urllib3.HTTPConnectionPool:
    """A keep-alive pool per receiver and checked address: its connections only ever go to ``ip``,
    so reusing one never skips a check (the name is resolved and checked again on every POST, and a
    new answer means another pool). Redirects and urllib3's own retries are off."""
    key = (target.scheme, target.host, target.port, ip, settings.webhook_per_subscription)
    pool = _POOLS.get(key)
    if pool is not None:
        _POOLS.move_to_end(key)
        return pool
    timeout = urllib3.Timeout(connect=settings.webhook_connect_timeout, read=settings.webhook_timeout)
    common = dict(timeout=timeout, retries=False, maxsize=settings.webhook_per_subscription, block=False)
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(ip, target.port, server_hostname=target.host,
                                           assert_hostname=target.host, **common)
    else:
        pool = urllib3.HTTPConnectionPool(ip, target.port, **common)
    _POOLS[key] = pool
    while len(_POOLS) > MAX_POOLS:
        _POOLS.popitem(last=False)[1].close()
    return pool


def close_pools() -> None:
    while _POOLS:
        _POOLS.popitem()[1].close()


def post(url: str, body: bytes, headers: dict[str, str], settings: Settings) -> Answer:
    """POST ``body`` to ``url`` under every rule above; never raises for the receiver's faults."""
    import eventlet

    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        target = check_url(url, settings)
    except Refused as exc:
        return Answer(None, took(), "", f"refused: {exc}")
    pool = _pool_for(target, target.addresses[0], settings)
    host = target.host if target.port in (80, 443) else f"{target.host}:{target.port}"
    response = None
    try:
        with eventlet.Timeout(settings.webhook_timeout, TimeoutError(f"no full answer in {settings.webhook_timeout:g} s")):
            response = pool.urlopen("POST", target.path, body=body, headers={**headers, "Host": host},
                                    redirect=False, retries=False, preload_content=False)
            raw = response.read(settings.webhook_response_cap + 1, decode_content=False) or b""
        if len(raw) > settings.webhook_response_cap:  # the rest is never read: the connection is not reused
            response.close()
        response.release_conn()
        return Answer(response.status, took(), raw[:EXCERPT].decode("utf-8", "replace"), None)
    except (urllib3.exceptions.HTTPError, OSError, TimeoutError) as exc:
        if response is not None:  # half-read: close it, never hand it to the next POST
            response.close()
            response.release_conn()
        return Answer(None, took(), "", f"{type(exc).__name__}: {str(exc)[:300]}")
