"""ETag and conditional reads.

Every successful ``GET`` of JSON under ``/api/v1`` carries a strong ETag of its body and
``Cache-Control: no-cache`` (``private`` when the caller is logged in, so no shared cache keeps a
person's view); a client that sends it back in ``If-None-Match`` gets ``304 Not Modified`` with no
body. Visibility is unchanged: the body, and so the ETag, is computed for this caller every time,
except for an anonymous public read (``gateway.public_cache``), which anyone may keep for a few
seconds and which a worker answers from its own copy, a 304 included, with no RPC.
"""
from __future__ import annotations

from flask import Request, Response

from gateway import public_cache


def make_conditional(request: Request, response: Response) -> Response:
    if request.method not in ("GET", "HEAD") or response.status_code != 200 or response.direct_passthrough:
        return response
    if public_cache.cacheable(request, response):
        public_cache.mark_public(request, response)
    elif response.mimetype == "application/json" and request.path.startswith("/api/v1/"):
        personal = bool(request.headers.get("Authorization") or request.cookies)
        response.headers.setdefault("Cache-Control", "private, no-cache" if personal else "no-cache")
        response.vary.update(("Authorization", "Cookie"))
        response.add_etag()
    else:
        return response
    return response.make_conditional(request)
