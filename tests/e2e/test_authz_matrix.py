"""The authorization matrix (tests/support/authz_matrix.py) driven through the real gateway against real
objects made in every state (OWASP API1, API5; who sees what)."""
from __future__ import annotations

import itertools
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from sqlalchemy import update

from chassis.db import Db, make_engine
from gateway.app import create_app
from tests.support.authz_matrix import COMMENT_STATES, CONSULTATION_STATES, MATRIX, ROLES, lookup, missing_rows
from services.consultations.models import consultations
from chassis.workdays import local_today
from tests.support.samples import FULL_NOTICE, draft_body, edrpou
from tests.support.waiting import eventually
from tests.support.api import Caller, dev_login, years_ago

pytestmark = pytest.mark.system

UNIT, OTHER_UNIT = "Відділ матриці доступу", "Чужий відділ матриці"
PDF = ("a.pdf", b"%PDF-1.4 matrix test", "application/pdf")
# routes whose 2xx changes the object's state: each allowed call gets a fresh object
STATE_CHANGING = {("PATCH", "/api/v1/consultations/{consultation_id}"),
                  ("POST", "/api/v1/consultations/{consultation_id}/publish"),
                  ("POST", "/api/v1/consultations/{consultation_id}/archive"),
                  ("POST", "/api/v1/consultations/{consultation_id}/decision"),
                  ("POST", "/api/v1/consultations/{consultation_id}/initiative-decision"),
                  ("POST", "/api/v1/consultations/{consultation_id}/offline-comments"),  # a new proposal
                  ("POST", "/api/v1/moderation/cases/{case_id}/decision"),
                  ("POST", "/api/v1/admin/organisations/{organisation_id}/confirm"),
                  ("POST", "/api/v1/admin/persons/{person_id}/roles"),
                  ("DELETE", "/api/v1/admin/persons/{person_id}/roles/{role_id}"),
                  ("PATCH", "/api/v1/plan/entries/{entry_id}"),
                  ("POST", "/api/v1/consultations/{consultation_id}/report/publish"),
                  ("DELETE", "/api/v1/consultations/{consultation_id}/report")}
# routes that end the caller's own session: every call gets a freshly logged-in caller
SELF_ENDING = {("POST", "/api/v1/auth/logout"), ("DELETE", "/api/v1/me")}
_seq = itertools.count()
# a receiver nobody listens on (loopback is allowed in tests: WEBHOOK_ALLOW_LOOPBACK)
WEBHOOK = {"url": "http://127.0.0.1:9/matrix", "event_types": ["decision_published"],
           "owner_contact": "ops@partner.example"}


def unique(text: str) -> str:
    return f"{text} {next(_seq)}-{uuid.uuid4().hex[:6]}"


def login(base: str, role: str) -> Caller | None:
    if role == "anonymous":
        return Caller(base)
    if role == "partner":  # a partner system's API key with every read scope
        admin = dev_login(base, ["admin"], full_name="Адміністратор Ключів Матриці")
        r = admin.post("/api/v1/admin/api-keys", json={"partner": "Матриця доступу", "rate_per_minute": 10000,
                                                       "scopes": ["events:read", "consultations:read", "open-data:read"]})
        assert r.status_code == 201, r.text
        return Caller(base, r.json()["key"])
    kinds = {"resident": (["resident"], {}),
             "ineligible": (["resident"], {"birth_date": years_ago(13)}),
             "head": (["institution_head"], {}),
             "owner": (["official"], {"unit": UNIT}),
             "other_official": (["official"], {"unit": OTHER_UNIT}),
             "moderator": (["moderator"], {}),
             "admin": (["admin"], {})}
    roles, extra = kinds[role]
    return dev_login(base, roles, full_name=f"Матриця {role.replace('_', ' ').title()} Тестова", **extra)


class World:
    """Real objects in every state, made through the API (and the timer, for closing)."""

    def __init__(self, env, base: str):
        self.env, self.base = env, base
        self.callers = {role: login(base, role) for role in ROLES}
        self.owner, self.moderator, self.admin = (self.callers[r] for r in ("owner", "moderator", "admin"))
        self.initiator = dev_login(base, full_name="Ініціатор Матриці Петрович")
        self.author = dev_login(base, full_name="Автор Коментарів Матриці")
        self.pool: dict[str, list[dict]] = {}
        self.comments: dict[str, str] = {}
        self.cases: list[str] = []

    # ---- consultations ---------------------------------------------------------------------
    def _draft(self) -> dict:
        body = draft_body(notice=FULL_NOTICE, starts_on=local_today().isoformat(),
                          ends_on=(local_today() + timedelta(days=20)).isoformat(), title=unique("Матриця"))
        c = self.owner.post("/api/v1/consultations", json=body)
        assert c.status_code == 201, c.text
        c = c.json()
        a = self.owner.post(f"/api/v1/consultations/{c['id']}/attachments", files={"file": PDF})
        assert a.status_code == 201, a.text
        return {"id": c["id"], "attachment_id": a.json()["id"], "alternative_id": c["alternatives"][0]["id"]}

    def make(self, counts: dict[str, int]) -> None:
        """counts: state → how many objects; closing goes through the service's own timer, all at once."""
        for state, n in counts.items():
            self.pool[state] = []
            for _ in range(n):
                if state in ("moderation", "forwarded"):
                    c = self.initiator.post("/api/v1/consultations", json=draft_body(title=unique("Ініціатива")))
                    assert c.status_code == 201 and c.json()["status"] == "submitted", c.text
                    if state == "forwarded":
                        self.forward(c.json()["id"])
                    self.pool[state].append({"id": c.json()["id"], "attachment_id": str(uuid.uuid4()),
                                             "alternative_id": c.json()["alternatives"][0]["id"]})
                    continue
                obj = self._draft()
                if state != "draft":
                    r = self.owner.post(f"/api/v1/consultations/{obj['id']}/publish")
                    assert r.status_code == 200 and r.json()["status"] == "active", r.text
                self.pool[state].append(obj)
        closing = [o["id"] for s in ("closed", "archived") for o in self.pool.get(s, [])]
        if self.pool.get("closed"):  # the shared closed object has a proposal to consider
            self.pool["closed"][0]["proposal_id"] = self.published_comment(self.pool["closed"][0]["id"])
        if closing:
            engine = make_engine("consultations", self.env.settings())
            with Db(engine).transaction() as session:
                session.execute(update(consultations).where(consultations.c.id.in_([uuid.UUID(i) for i in closing]))
                                .values(starts_on=local_today() - timedelta(days=20),
                                        ends_on=local_today() - timedelta(days=1)))
            engine.dispose()
            anon = Caller(self.base)
            assert eventually(lambda: all(anon.get(f"/api/v1/consultations/{i}").json()["status"] == "closed"
                                          for i in closing), seconds=20), "the timer did not close them"
            # the reports service snapshots each on consultation_closed (an event handler)
            assert eventually(lambda: all(self.owner.get(f"/api/v1/consultations/{i}/report").status_code == 200
                                          for i in closing), seconds=30), "no report snapshot after closing"
        for obj in self.pool.get("archived", []):  # archived after its report was published
            self.publish_report(obj["id"])
            r = self.owner.post(f"/api/v1/consultations/{obj['id']}/archive")
            assert r.status_code == 200, r.text
        for obj in self.pool.get("archived", []):
            assert eventually(lambda: Caller(self.base).get(
                f"/api/v1/consultations/{obj['id']}/archive/manifest.sha256").status_code == 200, seconds=30), "no bundle"

    def publish_report(self, cid: str) -> None:
        """Conclusion, publish (202), then wait for the timer to render version 1 (no proposals)."""
        report = f"/api/v1/consultations/{cid}/report"
        r = self.owner.put(report + "/conclusion", json={"conclusion": "Висновок звіту матриці доступу."})
        assert r.status_code == 200, r.text
        r = self.owner.post(report + "/publish")
        assert r.status_code == 202, r.text
        assert eventually(lambda: self.owner.get(report + "/versions").json()["items"], seconds=30), "not rendered"

    def published_comment(self, cid: str) -> str:
        c = self.author.post(f"/api/v1/consultations/{cid}/comments", json={"body": unique("Пропозиція до звіту")})
        assert c.status_code == 201, c.text
        assert eventually(lambda: c.json()["id"] in [x["id"] for x in Caller(self.base).get(
            f"/api/v1/consultations/{cid}/comments").json()["items"]]), "the proposal was not published"
        return c.json()["id"]

    def forward(self, cid: str) -> None:
        """R-3.10: a moderator passes the initiative to the owning unit."""
        unit_id = next(r["unit_id"] for r in self.owner.get("/api/v1/me").json()["roles"] if r["role"] == "official")
        case = eventually(lambda: self.case_of(cid))
        assert case, "the initiative never reached the queue"
        r = self.moderator.post(f"/api/v1/moderation/cases/{case}/decision", json={"decision": "approve", "unit_id": unit_id})
        assert r.status_code == 200, r.text
        assert eventually(lambda: self.owner.get(f"/api/v1/consultations/{cid}").json().get("status") == "forwarded")

    def take(self, state: str, fresh: bool) -> dict:
        return self.pool[state].pop() if fresh else self.pool[state][0]

    # ---- comments and moderation cases -----------------------------------------------------
    def case_of(self, subject_id: str) -> str | None:
        items = self.moderator.get("/api/v1/moderation/queue").json()["items"]
        return next((c["id"] for c in items if c["subject_id"] == subject_id), None)

    def held_comment(self, cid: str) -> tuple[str, str]:
        c = self.author.post(f"/api/v1/consultations/{cid}/comments",
                             json={"body": unique("Деталі тут: www.example.com, коментар")})
        assert c.status_code == 201, c.text
        case = eventually(lambda: self.case_of(c.json()["id"]))
        assert case, "the held comment never reached the queue"
        return c.json()["id"], case

    def make_comments(self, cid: str, cases: int) -> None:
        published = self.author.post(f"/api/v1/consultations/{cid}/comments",
                                     json={"body": unique("Підтримую ремонт дороги біля школи")}).json()["id"]
        assert eventually(lambda: published in [c["id"] for c in Caller(self.base).get(
            f"/api/v1/consultations/{cid}/comments").json()["items"]]), "the clean comment was not published"
        pending, _ = self.held_comment(cid)
        rejected, case = self.held_comment(cid)
        r = self.moderator.post(f"/api/v1/moderation/cases/{case}/decision",
                                json={"decision": "reject", "grounds": ["off_topic"]})
        assert r.status_code == 200, r.text
        assert eventually(lambda: [x for x in self.author.get("/api/v1/me/comments").json()["items"]
                                   if x["id"] == rejected and x["status"] == "rejected"])
        self.comments = {"pending": pending, "published": published, "rejected": rejected}
        self.cases = [self.held_comment(cid)[1] for _ in range(cases)]


def count_fresh(state_kind: str) -> dict[str, int]:
    """How many objects each state needs: one shared, plus one per allowed state-changing call."""
    counts = {s: 1 for s in CONSULTATION_STATES}
    for row in MATRIX:
        if (row.method, row.path) in STATE_CHANGING and row.states == CONSULTATION_STATES:
            for state in row.states:
                counts[state] += sum(cell == "2xx" for cell in row.expect[state].values())
    return counts


def allowed(row, kind: str = "2xx") -> int:
    cells = row.expect.values() if not row.states else [c for s in row.expect.values() for c in s.values()]
    return sum(c == kind for c in cells)


def matches(cell: str, status: int) -> bool:
    return str(status)[0] + "xx" == cell if cell.endswith("xx") else str(status) == cell


@pytest.fixture(scope="module")
def world(env, system):
    w = World(env, system.base_url)
    w.make(count_fresh("consultation"))
    w.make_comments(w.pool["active"][0]["id"], cases=1 + allowed(lookup(
        "POST", "/api/v1/moderation/cases/{case_id}/decision")))
    yield w
    # the matrix reported the published comment once per role: settle that case, so it does not
    # sit at the top of the shared queue other tests read
    reported = w.case_of(w.comments["published"])
    if reported:
        w.moderator.post(f"/api/v1/moderation/cases/{reported}/decision", json={"decision": "approve"})


class Filler:
    """Path parameters and bodies for one call of one route."""

    def __init__(self, world: World, row, state: str | None, role: str):
        self.w, self.row, self.state, self.role = world, row, state, role
        self.fresh = (row.method, row.path) in STATE_CHANGING and (
            (row.expect[state] if state else row.expect)[role] == "2xx")

    def obj(self) -> dict:
        return self.w.take(self.state, self.fresh)

    def path(self) -> str:
        values: dict[str, str] = {}
        if "{consultation_id}" in self.row.path:
            o = self.obj()
            values.update(consultation_id=o["id"], attachment_id=o["attachment_id"])
            self._alternative, self._cid = o["alternative_id"], o["id"]
            self._proposal = o.get("proposal_id") or str(uuid.uuid4())
            if self.fresh and self.row.path.endswith("/report/publish"):  # publishable: the conclusion written
                r = self.w.owner.put(f"/api/v1/consultations/{o['id']}/report/conclusion",
                                     json={"conclusion": unique("Висновок")})
                assert r.status_code == 200, r.text
        for name in re.findall(r"{(\w+)}", self.row.path):
            if name in values:
                continue
            values[name] = self.param(name)
        return self.row.path.format(**values)

    def param(self, name: str) -> str:
        w = self.w
        if name == "comment_id":
            return w.comments[self.state]
        if name == "case_id":
            return w.cases.pop() if self.fresh else w.cases[0]
        if name == "year":
            return str(local_today().year)
        if name in ("a", "b"):
            return "1"
        if name == "service":
            return "registry"
        if name == "organisation_id":
            head = dev_login(w.base, full_name="Голова Організації Матриці")
            r = head.post("/api/v1/organisations", json={"name": unique("ГО Матриця"), "kind": "ngo",
                                                          "edrpou": edrpou()})
            assert r.status_code == 201, r.text
            return r.json()["id"]
        if name == "person_id":
            self._person = dev_login(w.base, full_name="Особа Для Ролей Матриці")
            return self._person.person_id
        if name == "role_id":
            r = w.admin.post(f"/api/v1/admin/persons/{self._person.person_id}/roles", json={"role": "moderator"})
            assert r.status_code == 201, r.text
            return r.json()["id"]
        if name == "entry_id":
            r = w.callers["resident"].post(f"/api/v1/plan/{local_today().year}/entries",
                                           json={"title": unique("Пропозиція до плану"), "category": 3})
            assert r.status_code == 201, r.text
            return r.json()["id"]
        if name == "subscription_id":
            r = w.admin.post("/api/v1/admin/webhooks", json=WEBHOOK)
            assert r.status_code == 201, r.text
            return r.json()["id"]
        if name == "group_id":  # the group of the object's proposal (any proposal is in one), else none
            r = w.owner.get(f"/api/v1/consultations/{self._cid}/report/considerations")
            items = r.json()["items"] if r.status_code == 200 else []
            return next((i["group_id"] for i in items if i["comment_id"] == self._proposal), str(uuid.uuid4()))
        if name == "delivery_id":
            return "1"
        if name == "key_id":
            r = w.admin.post("/api/v1/admin/api-keys", json={"partner": unique("Партнер"), "scopes": ["events:read"]})
            assert r.status_code == 201, r.text
            return r.json()["id"]
        raise AssertionError(f"no filler for path parameter {{{name}}}: add one to this test")

    def kwargs(self, caller: Caller) -> dict:
        key = (self.row.method, self.row.path)
        bodies = {
            ("POST", "/api/v1/auth/dev-login"): {"subject": unique("dev-matrix"), "full_name": "Дев Матриця"},
            ("PUT", "/api/v1/me"): {"interests": [3]},
            ("POST", "/api/v1/me/consent"): {"version": requests.get(self.w.base + "/api/v1/consent").json()["version"]},
            ("POST", "/api/v1/me/notifications/read"): {},
            ("POST", "/api/v1/organisations"): {"name": unique("Організація"), "kind": "ngo", "edrpou": edrpou()},
            ("POST", "/api/v1/admin/persons/{person_id}/roles"): {"role": "moderator"},
            ("POST", "/api/v1/admin/units"): {"name": unique("Новий відділ")},
            ("POST", "/api/v1/consultations"): draft_body(title=unique("Нова")),
            ("PATCH", "/api/v1/consultations/{consultation_id}"): {"title": unique("Змінена назва")},
            ("POST", "/api/v1/consultations/{consultation_id}/decision"): {
                "number": "№ 1", "adopted_on": local_today().isoformat(), "title": "Про рішення матриці",
                "text": "Текст рішення для перевірки матриці доступу."},
            ("POST", "/api/v1/consultations/{consultation_id}/initiative-decision"): {
                "accept": True, "conclusion": "Підтримуємо ініціативу"},
            ("POST", "/api/v1/consultations/{consultation_id}/versions"): {
                "draft_text": "1. Перший пункт нової редакції.\n\n2. Другий пункт."},
            ("POST", "/api/v1/consultations/{consultation_id}/comments"): {"body": unique("Коментар матриці")},
            ("POST", "/api/v1/consultations/{consultation_id}/offline-comments"): {
                "channel": "paper", "author_name": "Лист Матриці Доступу", "body": unique("Пропозиція листом"),
                # the closed objects ran until yesterday, the others start today
                "received_on": (local_today() - timedelta(days=1 if self.state in ("closed", "archived") else 0)
                                ).isoformat()},
            ("POST", "/api/v1/consultations/{consultation_id}/responses"): {"alternative_id": getattr(self, "_alternative", None)},
            ("POST", "/api/v1/comments/{comment_id}/reports"): {"reason": "Перевірка скарги"},
            ("POST", "/api/v1/comments/{comment_id}/not-mine"): {"explanation": "Перевірка матриці"},
            ("POST", "/api/v1/moderation/cases/{case_id}/decision"): {"decision": "approve"},
            ("POST", "/api/v1/plan/{year}/entries"): {"title": unique("Запис плану"), "category": 3},
            ("PATCH", "/api/v1/plan/entries/{entry_id}"): {"planned_quarter": 3},
            ("PUT", "/api/v1/consultations/{consultation_id}/report/considerations"): {
                "comment_id": getattr(self, "_proposal", None), "outcome": "accepted"},
            ("PUT", "/api/v1/consultations/{consultation_id}/report/considerations/bulk"): {
                "comment_ids": [getattr(self, "_proposal", None)], "outcome": "partly_accepted",
                "justification": "Частково враховано (матриця доступу)"},
            ("PUT", "/api/v1/consultations/{consultation_id}/report/conclusion"): {"conclusion": unique("Висновок")},
            ("PUT", "/api/v1/consultations/{consultation_id}/report/groups/{group_id}/consideration"): {
                "outcome": "partly_accepted", "justification": "Частково враховано (матриця доступу)"},
            ("POST", "/api/v1/consultations/{consultation_id}/report/groups/{group_id}/split"): {
                "comment_id": getattr(self, "_proposal", None)},
            ("POST", "/api/v1/admin/webhooks"): WEBHOOK,
            ("POST", "/api/v1/admin/api-keys"): {"partner": unique("Партнер"), "scopes": ["consultations:read"]},
            ("POST", "/api/v1/admin/webhooks/{subscription_id}/replay"): {
                "since": "2026-01-01T00:00:00Z", "until": "2026-01-02T00:00:00Z"},
        }
        if key == ("POST", "/api/v1/consultations/{consultation_id}/attachments"):
            return {"files": {"file": PDF}}
        if key == ("POST", "/api/v1/unsubscribe"):
            return {"params": {"token": "forged-token-0123456789"}}
        if key == ("GET", "/api/v1/reports/stats"):
            return {"params": {"year": local_today().year}}
        if key == ("GET", "/api/v1/auth/callback"):
            return {"params": {"code": "x" * 12, "state": "y" * 12}}
        if key in bodies:
            return {"json": bodies[key]}
        if self.row.method not in ("GET", "DELETE") and key[1] not in (
                "/api/v1/consultations/{consultation_id}/publish", "/api/v1/consultations/{consultation_id}/archive",
                "/api/v1/auth/logout", "/api/v1/admin/organisations/{organisation_id}/confirm",
                "/api/v1/consultations/{consultation_id}/report/publish",
                "/api/v1/consultations/{consultation_id}/report/snapshot",
                "/api/v1/admin/webhooks/{subscription_id}/rotate-secret",
                "/api/v1/admin/webhooks/{subscription_id}/deliveries/{delivery_id}/resend"):
            raise AssertionError(f"no body for {key}: add one to this test")
        return {}


def test_every_openapi_route_has_a_row(system):
    doc = requests.get(system.base_url + "/openapi.json", timeout=10).json()
    assert missing_rows(doc) == [], "routes without a row in tests/support/authz_matrix.py"
    paths = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    stale = [f"{r.method} {r.path}" for r in MATRIX if (r.method, r.path) not in paths and not r.web]
    assert stale == [], "rows for routes that no longer exist"
    pages = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule) for rule in create_app().url_map.iter_rules()
             if rule.endpoint.startswith("web.")}
    stale_pages = [r.path for r in MATRIX if r.web and r.path not in pages]
    assert stale_pages == [], "rows for web pages that no longer exist"


def test_missing_row_is_detected():
    doc = {"paths": {"/api/v1/consultations/{consultation_id}/report": {"get": {}, "patch": {}}, "/healthz": {"get": {}}}}
    assert missing_rows(doc) == ["PATCH /api/v1/consultations/{consultation_id}/report"]


def test_matrix_rows_are_complete():
    for row in MATRIX:
        cells = [row.expect] if not row.states else [row.expect[s] for s in row.states]
        for c in cells:
            assert set(c) == set(ROLES), row.path
            assert all(re.fullmatch(r"[1-5]xx|[1-5]\d\d", v) for v in c.values()), row


# cells of one row run together (the gateway has 2 workers x 8 threads); rows run one after another, so a
# row sees the objects the rows before it left, as when every cell ran in turn
CELL_THREADS = 8


def check_cell(world: World, row, state: str | None, role: str) -> str | None:
    """One call of one route in one object state as one role: the failure line, or None."""
    cells = row.expect[state] if state else row.expect
    filler = Filler(world, row, state, role)
    if (row.method, row.path) in SELF_ENDING and role != "anonymous":
        caller = login(world.base, role)  # the call ends this session: a login of its own
    else:
        caller = world.callers[role]
    path = filler.path()
    r = caller.request(row.method, path, allow_redirects=False, **filler.kwargs(caller))
    if matches(cells[role], r.status_code):
        return None
    return (f"{row.method} {row.path} [{state or '-'}] as {role}: expected {cells[role]}, "
            f"got {r.status_code} {r.text[:120]}")


@pytest.mark.timeout(600)
def test_the_matrix_holds_through_the_gateway(world):
    """Clauses R-1.2, R-2.1."""
    failures = []
    with ThreadPoolExecutor(CELL_THREADS) as pool:
        for row in MATRIX:
            cells = [(state, role) for state in row.states or (None,) for role in ROLES]
            results = pool.map(lambda cell: check_cell(world, row, *cell), cells)  # noqa: B023 - consumed here
            failures += [f for f in results if f]
    assert not failures, f"{len(failures)} cells differ:\n" + "\n".join(failures)


# ---- the services check again: RPC straight on the bus, acting for a person who may not -----------

def principal(env, caller: Caller) -> dict:
    """The principal the gateway would pass for this caller (its session resolved by the registry)."""
    from itsdangerous import URLSafeTimedSerializer
    from nameko.standalone.rpc import ClusterRpcProxy

    from chassis.settings import get_settings

    sid = URLSafeTimedSerializer(get_settings().secret_key, salt="econsult-session").loads(caller.token)["sid"]
    with ClusterRpcProxy({"AMQP_URI": env.amqp_uri}, timeout=10) as rpc:
        return rpc.registry.resolve_session(sid)


def test_services_refuse_rpc_for_a_person_who_may_not(env, world):
    """Clause R-2.1."""
    from nameko.standalone.rpc import ClusterRpcProxy

    from chassis.errors import Forbidden, NotFound

    who = {role: principal(env, world.callers[role])
           for role in ("resident", "ineligible", "owner", "other_official", "moderator", "admin")}
    draft, active = world.pool["draft"][0]["id"], world.pool["active"][0]["id"]
    initiative = world.pool["moderation"][0]["id"]
    comment = {"body": "Коментар напряму через шину"}
    # reports: the closed object's report is unpublished (hidden from all but the insiders), the
    # archived one's is published (public, read-only)
    closed, archived = world.pool["closed"][0]["id"], world.pool["archived"][0]["id"]
    proposal = world.pool["closed"][0]["proposal_id"]
    refuse = {"comment_id": proposal, "outcome": "not_accepted", "justification": "Підміна розгляду"}
    refuse_all = {"comment_ids": [proposal], "outcome": "not_accepted", "justification": "Підміна розгляду"}
    report = f"/api/v1/consultations/{closed}/report"
    proposal_group = next(p["group_id"] for p in world.owner.get(report + "/considerations").json()["items"]
                          if p["comment_id"] == proposal)
    refuse_group = {"outcome": "not_accepted", "justification": "Підміна розгляду групи"}

    def report_state():
        return world.owner.get(report).json(), world.owner.get(report + "/considerations").json()
    before = report_state()
    refused = [
        (NotFound, "consultations", "get", who["resident"], draft),
        (NotFound, "consultations", "get", who["other_official"], initiative),
        (NotFound, "consultations", "list_comments", who["resident"], draft),
        (NotFound, "consultations", "results", None, draft),
        (NotFound, "consultations", "update_draft", who["other_official"], draft, {"title": "Підміна назви"}),
        (NotFound, "consultations", "publish", who["other_official"], draft),
        (Forbidden, "consultations", "update_draft", who["resident"], active, {"title": "Підміна назви"}),
        (Forbidden, "consultations", "archive", who["other_official"], active),
        (Forbidden, "consultations", "add_comment", who["ineligible"], active, comment),
        (Forbidden, "consultations", "add_comment", None, active, comment),
        (Forbidden, "consultations", "respond", who["ineligible"], active,
         {"alternative_id": world.pool["active"][0]["alternative_id"]}),
        (NotFound, "consultations", "get_attachment", who["resident"], draft, world.pool["draft"][0]["attachment_id"]),
        (Forbidden, "consultations", "deadlines", who["resident"]),
        (Forbidden, "moderation", "queue", who["resident"]),
        (Forbidden, "moderation", "decide", who["other_official"], world.cases[0], {"decision": "approve"}),
        (Forbidden, "moderation", "audit", who["resident"]),
        (NotFound, "moderation", "report_comment", who["resident"], world.comments["pending"], {"reason": "Скарга"}),
        (NotFound, "moderation", "report_comment", who["resident"], world.comments["rejected"], {"reason": "Скарга"}),
        (Forbidden, "registry", "grant_role", who["resident"]["person_id"], who["resident"]["person_id"],
         {"role": "admin"}),
        (Forbidden, "registry", "admin_get_person", who["resident"]["person_id"], who["ineligible"]["person_id"]),
        (Forbidden, "registry", "audit_log", who["other_official"]["person_id"]),
        (NotFound, "reports", "get_report", who["resident"], closed),
        (NotFound, "reports", "proposals", who["other_official"], closed, 1, 50, False),
        (NotFound, "reports", "consider", who["other_official"], closed, refuse),
        (NotFound, "reports", "consider", None, closed, refuse),
        (Forbidden, "reports", "consider", who["moderator"], closed, refuse),
        (Forbidden, "reports", "consider", who["other_official"], archived, refuse),
        (NotFound, "reports", "consider_bulk", who["resident"], closed, refuse_all),
        (Forbidden, "reports", "consider_bulk", who["admin"], closed, refuse_all),
        (NotFound, "reports", "groups", who["resident"], closed, 1, 20, 2),
        (NotFound, "reports", "group", who["other_official"], closed, proposal_group, 1, 50),
        (NotFound, "reports", "consider_group", who["other_official"], closed, proposal_group, refuse_group),
        (Forbidden, "reports", "consider_group", who["moderator"], closed, proposal_group, refuse_group),
        (NotFound, "reports", "split_group", None, closed, proposal_group, {"comment_id": proposal}),
        (Forbidden, "reports", "split_group", who["admin"], closed, proposal_group, {"comment_id": proposal}),
        (NotFound, "reports", "set_conclusion", who["other_official"], closed, {"conclusion": "Підміна висновку"}),
        (Forbidden, "reports", "set_conclusion", who["moderator"], closed, {"conclusion": "Підміна висновку"}),
        (NotFound, "reports", "publish", who["other_official"], closed),
        (Forbidden, "reports", "publish", who["admin"], closed),
        (Forbidden, "reports", "publish", who["resident"], archived),
        (NotFound, "reports", "take_snapshot", who["resident"], closed),
        (NotFound, "reports", "take_snapshot", None, closed),
        (Forbidden, "reports", "take_snapshot", who["moderator"], closed),
        (Forbidden, "reports", "take_snapshot", who["other_official"], active),
        (Forbidden, "reports", "delete_report", who["owner"], closed),
        (Forbidden, "reports", "delete_report", who["moderator"], closed),
        (Forbidden, "reports", "delete_report", None, closed),
    ]
    wrong = []
    with ClusterRpcProxy({"AMQP_URI": env.amqp_uri}, timeout=10) as rpc:
        for expected, service, method, *args in refused:
            try:
                getattr(getattr(rpc, service), method)(*args)
                wrong.append(f"{service}.{method}: accepted")
            except expected:
                pass
            except Exception as exc:  # noqa: BLE001 - reported below
                wrong.append(f"{service}.{method}: {type(exc).__name__} {exc}")
        # the archive bundle: the public one (public protocol) unless the caller is an insider
        bundles = {r: rpc.reports.bundle(who[r], archived)["sha256"] for r in ("resident", "other_official", "moderator")}
        bundles["anonymous"] = rpc.reports.bundle(None, archived)["sha256"]
    assert wrong == []
    assert bundles["resident"] == bundles["other_official"] == bundles["anonymous"] != bundles["moderator"]
    # nothing changed: the draft keeps its title, no role was granted
    assert world.owner.get(f"/api/v1/consultations/{draft}").json()["title"] != "Підміна назви"
    assert "admin" not in [r["role"] for r in world.callers["resident"].get("/api/v1/me").json()["roles"]]
    # the report is as it was: not deleted, not published, conclusion and considerations unchanged
    assert report_state() == before and before[0]["status"] == "draft" and before[1]["total"] == 1
