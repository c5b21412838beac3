"""``/openapi.json`` and ``/docs``: Swagger UI whose assets the gateway serves itself
(from the swagger-ui-bundle package), so the docs work without internet."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, send_from_directory
from swagger_ui_bundle import swagger_ui_path

PAGE = """<!doctype html>
<html lang="uk"><head><meta charset="utf-8"><title>API — Електронні консультації</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script></body></html>"""

INIT = 'window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true});'


def register() -> Blueprint:
    bp = Blueprint("docs", __name__)

    @bp.get("/openapi.json")
    def openapi_json():
        return jsonify(current_app.extensions["openapi"])

    @bp.get("/docs")
    def docs_page():
        return current_app.response_class(PAGE, mimetype="text/html")

    @bp.get("/docs/init.js")
    def docs_init():
        return current_app.response_class(INIT, mimetype="text/javascript")

    @bp.get("/docs/assets/<path:filename>")
    def docs_assets(filename: str):
        return send_from_directory(swagger_ui_path, filename, max_age=86400)

    return bp
