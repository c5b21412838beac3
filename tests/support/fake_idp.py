"""A small fake of the national identity provider (id.gov.ua-style OAuth 2.0 authorization code)
on loopback, for the login tests: /authorize, /get-access-token, /get-user-info.

It checks the client id and secret, the redirect URI, one-time codes and PKCE (S256), and answers
with the identity the test put in ``next_identity``.
"""
from __future__ import annotations

import base64
import hashlib
import os
import secrets
import threading
from urllib.parse import urlencode

from flask import Flask, jsonify, redirect, request
from werkzeug.serving import make_server

CLIENT_ID, CLIENT_SECRET = "econsult-test", "s3cret-for-tests"


class FakeIdentityProvider:
    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.next_identity: dict = {}
        self.codes: dict[str, dict] = {}
        self.tokens: dict[str, dict] = {}
        self.app = self._build()
        self.server = make_server(host, port, self.app, threaded=True)
        self.port = self.server.server_port
        self.base = f"http://127.0.0.1:{self.port}"

    def settings(self) -> dict:
        return {"OAUTH_AUTHORIZE_URL": self.base + "/authorize",
                "OAUTH_TOKEN_URL": self.base + "/get-access-token",
                "OAUTH_USERINFO_URL": self.base + "/get-user-info",
                "OAUTH_CLIENT_ID": CLIENT_ID, "OAUTH_CLIENT_SECRET": CLIENT_SECRET}

    def start(self) -> "FakeIdentityProvider":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()

    def _build(self) -> Flask:
        app = Flask("fake_idp")

        @app.get("/authorize")
        def authorize():
            a = request.args
            if a.get("client_id") != CLIENT_ID or a.get("response_type") != "code":
                return jsonify(error="invalid_client"), 400
            code = secrets.token_urlsafe(16)
            self.codes[code] = {"identity": dict(self.next_identity), "redirect_uri": a["redirect_uri"],
                                "challenge": a.get("code_challenge"), "method": a.get("code_challenge_method")}
            return redirect(a["redirect_uri"] + "?" + urlencode({"code": code, "state": a.get("state", "")}))

        @app.route("/get-access-token", methods=["GET", "POST"])
        def token():
            p = request.values
            if p.get("client_id") != CLIENT_ID or p.get("client_secret") != CLIENT_SECRET:
                return jsonify(error="invalid_client"), 401
            grant = self.codes.pop(p.get("code", ""), None)  # one-time
            if grant is None or p.get("grant_type") != "authorization_code":
                return jsonify(error="invalid_grant"), 400
            if p.get("redirect_uri") != grant["redirect_uri"]:
                return jsonify(error="invalid_grant", error_description="redirect_uri"), 400
            if grant["challenge"]:
                digest = hashlib.sha256(p.get("code_verifier", "").encode()).digest()
                if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant["challenge"]:
                    return jsonify(error="invalid_grant", error_description="pkce"), 400
            access = secrets.token_urlsafe(16)
            self.tokens[access] = grant["identity"]
            return jsonify(access_token=access, token_type="bearer", expires_in=3600,
                           user_id=grant["identity"].get("user_id", ""))

        @app.post("/next-identity")
        def set_next_identity():  # the deployment test drives the containerised provider with this
            self.next_identity = dict(request.get_json())
            return jsonify(status="ok")

        @app.get("/get-user-info")
        def userinfo():
            identity = self.tokens.get(request.args.get("access_token", ""))
            if identity is None:
                return jsonify(error="invalid_token"), 401
            return jsonify(identity)

        return app


def main() -> None:
    """The ``test`` profile of docker-compose.yml runs this as a container (``IDP_PORT``, default 9400)."""
    import signal
    import sys

    idp = FakeIdentityProvider(os.environ.get("IDP_BIND", "0.0.0.0"), int(os.environ.get("IDP_PORT", "9400")))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # PID 1 ignores SIGTERM without a handler
    idp.server.serve_forever()


if __name__ == "__main__":
    main()
