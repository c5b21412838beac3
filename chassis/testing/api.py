"""Talking to a running gateway as a signed-in person (the development login)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

import requests

from chassis.workdays import local_today


@dataclass
class Caller:
    base: str
    token: str | None = None
    person_id: str | None = None

    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, self.base + path, headers={**self.headers(), **kwargs.pop("headers", {})},
                                timeout=15, **kwargs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


def years_ago(years: int, days: int = 0) -> str:
    today = local_today()  # ages are counted on the city's calendar
    try:
        d = today.replace(year=today.year - years)
    except ValueError:  # 29 February
        d = today.replace(year=today.year - years, day=28)
    return date.fromordinal(d.toordinal() - days).isoformat()


def dev_login(base: str, roles=("resident",), *, full_name: str = "Тестова Особа Іванівна",
              birth_date: str | None = None, community_member: bool = True, unit: str | None = None,
              consent: bool = True, subject: str | None = None) -> Caller:
    body = {"subject": subject or f"dev-{uuid.uuid4().hex[:12]}", "full_name": full_name,
            "birth_date": birth_date or years_ago(30), "community_member": community_member,
            "roles": list(roles), "consent": consent}
    if unit:
        body["unit"] = unit
    r = requests.post(base + "/api/v1/auth/dev-login", json=body, timeout=15)
    assert r.status_code == 200, r.text
    return Caller(base, r.json()["access_token"], r.json()["person_id"])
