"""Anonymous public reads: cacheable by anyone for ``PUBLIC_CACHE_SECONDS``, and kept that long by
each gateway worker so a spike of the same page costs one RPC per worker per period.

A read is *public* when all of these hold, and only then:

* the route is public: a ``GET`` under ``/api/v1`` documented with no login (``auth="public"``;
  the login routes excepted) or one of :data:`PUBLIC_PAGES`;
* the caller is anonymous: no ``Authorization``, no ``X-Api-Key``, no cookie at all (a session, the
  flash messages or the CSRF cookie make the answer personal, or may);
* the answer is a ``200`` of JSON or HTML, whole (not streamed), setting no cookie, and the page
  rendered no CSRF token.

A public answer carries ``Cache-Control: public, max-age=N`` (N ≤ ``PUBLIC_CACHE_SECONDS``: what is
left of the worker's copy), ``Vary: Authorization, Cookie, X-Api-Key`` and a strong ``ETag``; anything
else stays as before (``no-cache``/``private`` on the API, ``no-store`` on the pages). A hidden object
answers 404 to an anonymous caller, which is never public and never kept. A request with
``Cache-Control: no-cache`` skips the worker's copy (and refreshes it).
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from flask import Flask, Request, Response, current_app, g, session

PUBLIC_PAGES = frozenset({"web.home", "web.consultation", "web.plan"})
PERSONAL_HEADERS = ("Authorization", "Cookie", "X-Api-Key")
KEPT_TYPES = ("application/json", "text/html")


@dataclass
class Entry:
    body: bytes
    content_type: str
    etag: str
    stored: float


class PublicCache:
    """A least-recently-used map of path + query → the anonymous answer, bounded in bytes; shared by
    a worker's threads."""

    def __init__(self, seconds: int, budget_bytes: int, endpoints: frozenset[str]):
        self.seconds, self.budget, self.endpoints = seconds, budget_bytes, endpoints
        self.largest = budget_bytes // 16
        self.entries: OrderedDict[str, Entry] = OrderedDict()
        self.size = 0
        self.lock = threading.Lock()

    def get(self, key: str, now: float) -> Entry | None:
        with self.lock:
            entry = self.entries.get(key)
            if entry is None:
                return None
            if now - entry.stored >= self.seconds:
                self._drop(key)
                return None
            self.entries.move_to_end(key)
            return entry

    def put(self, key: str, entry: Entry) -> None:
        if len(entry.body) > self.largest:
            return
        with self.lock:
            if key in self.entries:
                self._drop(key)
            self.entries[key] = entry
            self.size += len(entry.body)
            while self.size > self.budget:
                self._drop(next(iter(self.entries)))

    def _drop(self, key: str) -> None:
        self.size -= len(self.entries.pop(key).body)


def anonymous(request: Request) -> bool:
    return not any(request.headers.get(name) for name in PERSONAL_HEADERS)


def _cache() -> PublicCache | None:
    return current_app.extensions.get("public_cache")


def public_route(request: Request) -> bool:
    cache = _cache()
    return (cache is not None and request.method in ("GET", "HEAD") and request.endpoint in cache.endpoints
            and anonymous(request))


def cacheable(request: Request, response: Response) -> bool:
    """May anyone keep this answer (see the module's rules)?"""
    return (public_route(request) and response.status_code == 200 and not response.direct_passthrough
            and not response.is_streamed and response.mimetype in KEPT_TYPES
            and "Set-Cookie" not in response.headers and not g.get("new_csrf")
            and not session.modified)


def serve_kept(request: Request) -> Response | None:
    """The worker's fresh copy for an anonymous public GET, before any RPC; None: render it."""
    if request.method != "GET" or not public_route(request) or "no-cache" in request.headers.get("Cache-Control", ""):
        return None
    entry = _cache().get(request.full_path, time.monotonic())
    if entry is None:
        return None
    response = Response(entry.body, content_type=entry.content_type)
    response.set_etag(entry.etag)
    g.kept = entry
    return response


def mark_public(request: Request, response: Response) -> None:
    """Headers of a public answer; keep a freshly rendered one."""
    cache = _cache()
    now = time.monotonic()
    entry = g.get("kept")
    if entry is None:
        response.add_etag()
        entry = Entry(response.get_data(), response.content_type, response.get_etag()[0], now)
        if request.method == "GET":
            cache.put(request.full_path, entry)
    left = max(1, int(cache.seconds - (now - entry.stored)))
    response.headers["Cache-Control"] = f"public, max-age={left}"
    response.vary.update(PERSONAL_HEADERS)


def install(app: Flask, public_api_rules: set[str]) -> None:
    """Keep anonymous public reads in this worker; ``public_api_rules``: the documented public GETs."""
    settings = app.config["SETTINGS"]
    if not settings.public_cache_seconds:
        return
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()
                 if rule.rule in public_api_rules and "GET" in (rule.methods or ())
                 and rule.rule.startswith("/api/v1/") and not rule.rule.startswith("/api/v1/auth/")}
    app.extensions["public_cache"] = PublicCache(settings.public_cache_seconds,
                                                 settings.public_cache_mb * 1024 * 1024,
                                                 frozenset(endpoints | PUBLIC_PAGES))
