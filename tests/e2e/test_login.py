"""Login through the fake identity provider, end to end over HTTP (issue: Registry and identity)."""
from __future__ import annotations

import time
import uuid
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from chassis.settings import DEV_SECRET
from tests.conftest import COMMUNITY_CODE
from tests.support.api import Caller

pytestmark = pytest.mark.system


def identity(**over) -> dict:
    info = {"user_id": f"idgov-{uuid.uuid4().hex[:10]}", "lastname": "Коваленко", "givenname": "Олена",
            "middlename": "Петрівна", "unzr": "19850317-01234", "drfocode": "3125400000",
            "email": "olena.k@example.org", "phone": "+380501234567",
            "address": f"м. Коростень, вул. Грушевського, 1 ({COMMUNITY_CODE})"}
    info.update(over)
    return info


def start_login(system, idp, info: dict, next_path: str = "/consultations"):
    idp.next_identity = info
    browser = requests.Session()
    r = browser.get(system.base_url + "/api/v1/auth/login", params={"next": next_path},
                    allow_redirects=False, timeout=10)
    assert r.status_code == 302, r.text
    authorize = urlparse(r.headers["Location"])
    q = parse_qs(authorize.query)
    assert authorize.netloc == f"127.0.0.1:{idp.port}"
    assert q["response_type"] == ["code"] and q["code_challenge_method"] == ["S256"]
    assert q["state"][0] and q["code_challenge"][0] and q["client_id"] == ["econsult-test"]
    back = browser.get(r.headers["Location"], allow_redirects=False, timeout=10)
    assert back.status_code == 302
    callback = urlparse(back.headers["Location"])
    return browser, callback


def finish_login(system, browser, callback, **params):
    q = {k: v[0] for k, v in parse_qs(callback.query).items()}
    q.update(params)
    return browser.get(system.base_url + callback.path, params=q, timeout=15,
                       headers={"Accept": "application/json"}, allow_redirects=False)


def test_login_end_to_end_then_consent_before_anything_else(system, idp):
    """Clauses R-2.3, R-3.5."""
    info = identity()
    browser, callback = start_login(system, idp, info)
    r = finish_login(system, browser, callback)
    assert r.status_code == 200, r.text
    token = r.json()
    assert token["token_type"] == "Bearer" and token["consent_required"] is True
    me = Caller(system.base_url, token["access_token"])
    profile = me.get("/api/v1/me").json()
    assert profile["full_name"] == "Коваленко Олена Петрівна"
    assert profile["birth_date"] == "1985-03-17" and profile["community_member"] is True
    assert profile["eligibility"] == {"eligible": True, "reasons": []}
    assert profile["email"] == "olena.k@example.org" and profile["consent"] is None

    refused = me.put("/api/v1/me", json={"interests": [3]})
    assert refused.status_code == 403 and refused.json()["code"] == "consent_required"
    version = requests.get(system.base_url + "/api/v1/consent", timeout=5).json()["version"]
    assert me.post("/api/v1/me/consent", json={"version": version}).status_code == 200
    assert me.put("/api/v1/me", json={"interests": [3, 17]}).json()["interests"] == [3, 17]

    # the second login finds the same person, keeps what they set in the cabinet
    browser, callback = start_login(system, idp, {**info, "email": "other@example.org"})
    again = finish_login(system, browser, callback)
    assert again.json()["person_id"] == token["person_id"] and again.json()["consent_required"] is False
    assert Caller(system.base_url, again.json()["access_token"]).get("/api/v1/me").json()["email"] == \
        "olena.k@example.org"


def test_browser_login_sets_httponly_samesite_cookie_and_redirects(system, idp):
    browser, callback = start_login(system, idp, identity(), next_path="/consultations/42")
    q = {k: v[0] for k, v in parse_qs(callback.query).items()}
    r = browser.get(system.base_url + callback.path, params=q, allow_redirects=False, timeout=15)
    assert r.status_code == 302 and r.headers["Location"] == "/me/consent?next=/consultations/42"  # consent first
    cookies = r.headers.get_all("Set-Cookie") if hasattr(r.headers, "get_all") else r.raw.headers.getlist("Set-Cookie")
    session_cookie = next(c for c in cookies if c.startswith("econsult_session="))
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie


def test_tampered_state_is_refused(system, idp):
    """Clause R-2.3."""
    browser, callback = start_login(system, idp, identity())
    r = finish_login(system, browser, callback, state="forged-state")
    assert r.status_code == 422 and r.json()["code"] == "invalid_state"
    fresh = requests.Session()  # no state cookie at all (a login started elsewhere)
    q = {k: v[0] for k, v in parse_qs(callback.query).items()}
    r = fresh.get(system.base_url + callback.path, params=q, headers={"Accept": "application/json"}, timeout=10)
    assert r.status_code == 422 and r.json()["code"] == "invalid_state"


def test_tampered_or_reused_code_is_refused(system, idp):
    """Clause R-2.3."""
    browser, callback = start_login(system, idp, identity())
    r = finish_login(system, browser, callback, code="forged-code")
    assert r.status_code == 400 and r.json()["code"] == "code_rejected"
    browser, callback = start_login(system, idp, identity())
    assert finish_login(system, browser, callback).status_code == 200
    browser.cookies.clear()
    browser2, callback2 = start_login(system, idp, identity())
    q_old = {k: v[0] for k, v in parse_qs(callback.query).items()}
    q_new = {k: v[0] for k, v in parse_qs(callback2.query).items()}
    replay = browser2.get(system.base_url + callback.path, params={"code": q_old["code"], "state": q_new["state"]},
                          headers={"Accept": "application/json"}, timeout=10)
    assert replay.status_code == 400 and replay.json()["code"] == "code_rejected"


def test_expired_forged_and_revoked_tokens_are_refused(system, idp):
    """Clause R-2.3."""
    browser, callback = start_login(system, idp, identity())
    token = finish_login(system, browser, callback).json()["access_token"]
    me = Caller(system.base_url, token)
    assert me.get("/api/v1/me").status_code == 200

    session_id = URLSafeTimedSerializer(DEV_SECRET, salt="econsult-session").loads(token)["sid"]

    class LongAgo(TimestampSigner):
        def get_timestamp(self):
            return int(time.time()) - 13 * 3600  # the default session lasts 12 hours

    expired = URLSafeTimedSerializer(DEV_SECRET, salt="econsult-session", signer=LongAgo).dumps({"sid": session_id})
    r = Caller(system.base_url, expired).get("/api/v1/me")
    assert r.status_code == 401 and r.json()["code"] == "token_expired"
    forged = URLSafeTimedSerializer("not-our-secret", salt="econsult-session").dumps({"sid": session_id})
    r = Caller(system.base_url, forged).get("/api/v1/me")
    assert r.status_code == 401 and r.json()["code"] == "token_invalid"

    assert me.post("/api/v1/auth/logout").status_code == 204
    r = me.get("/api/v1/me")
    assert r.status_code == 401 and r.json()["code"] == "session_revoked"


def test_cookie_sessions_need_the_csrf_token_for_changes(system, idp):
    """Clause R-3.5."""
    browser, callback = start_login(system, idp, identity())
    finish_login(system, browser, callback)
    version = requests.get(system.base_url + "/api/v1/consent", timeout=5).json()["version"]
    r = browser.post(system.base_url + "/api/v1/me/consent", json={"version": version}, timeout=10)
    assert r.status_code == 403 and r.json()["code"] == "csrf_failed"
    csrf = browser.cookies["econsult_csrf"]
    r = browser.post(system.base_url + "/api/v1/me/consent", json={"version": version},
                     headers={"X-CSRF-Token": csrf}, timeout=10)
    assert r.status_code == 200
    assert browser.get(system.base_url + "/api/v1/me", timeout=10).status_code == 200  # reads need none


def test_a_non_member_is_registered_but_not_eligible(system, idp):
    """Clause R-1.3."""
    info = identity(address="м. Житомир, вул. Київська, 5", unzr="", drfocode="3125400000")
    browser, callback = start_login(system, idp, info)
    token = finish_login(system, browser, callback).json()["access_token"]
    profile = Caller(system.base_url, token).get("/api/v1/me").json()
    assert profile["birth_date"] == "1985-07-27"  # from the РНОКПП: 31254 days after 1899-12-31
    assert profile["eligibility"] == {"eligible": False, "reasons": ["not_community_member"]}


def test_after_erasure_a_new_login_does_not_take_contacts_back(system, idp):
    """Clause R-2.4."""
    info = identity()
    browser, callback = start_login(system, idp, info)
    token = finish_login(system, browser, callback).json()["access_token"]
    me = Caller(system.base_url, token)
    assert me.get("/api/v1/me").json()["email"] == "olena.k@example.org"
    assert me.delete("/api/v1/me").status_code == 204
    browser, callback = start_login(system, idp, info)
    again = finish_login(system, browser, callback).json()
    assert again["consent_required"] is True
    profile = Caller(system.base_url, again["access_token"]).get("/api/v1/me").json()
    assert profile["email"] is None and profile["phone"] is None and profile["erased"] is True
