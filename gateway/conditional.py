"""ETag and conditional reads on the API (DESIGN, "HTTP API": ETags on reads; issue 8, item 5).

Every successful ``GET`` of JSON under ``/api/v1`` carries a strong ETag of its body and
``Cache-Control: no-cache`` (``private`` when the caller is logged in, so no shared cache keeps a
person's view); a client that sends it back in ``If-None-Match`` gets ``304 Not Modified`` with no
body. Visibility is unchanged: the body, and so the ETag, is computed for this caller every time.
"""
from __future__ import annotations

from flask import Request, Response


def make_conditional(request: Request, response: Response) -> Response:
    if (request.method != "GET" or response.status_code != 200 or response.direct_passthrough
            or response.mimetype != "application/json" or not request.path.startswith("/api/v1/")):
        return response
    personal = bool(request.headers.get("Authorization") or request.cookies)
    response.headers.setdefault("Cache-Control", "private, no-cache" if personal else "no-cache")
    response.vary.update(("Authorization", "Cookie"))
    response.add_etag()
    return response.make_conditional(request)
