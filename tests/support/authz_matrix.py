"""The authorization matrix (OWASP API1/API5; who sees what): every route of
``/openapi.json`` × role × state of the object it takes → the expected status class.

``tests/e2e/test_authz_matrix.py`` drives every cell through the real gateway against real objects
made in each state, and fails when a route in ``/openapi.json`` has no row here. A new route needs
a row (and, in that test, a body and a filler for any new path parameter).

Cells are ``"2xx"``, ``"3xx"`` or an exact status (``"401"``, ``"403"``, ``"404"``, ``"409"``,
``"422"``, ``"400"``). Role-gated routes answer 403 (or 401) before any object is looked at, the
same for every id, so that 403 tells nothing about existence; an object a caller may not see
answers 404 (drafts: owning unit and moderators; an initiative on moderation: its initiator and
moderators; pending and rejected comments: never public).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

ROLES = ("anonymous", "resident", "ineligible", "head", "owner", "other_official", "moderator", "admin", "partner")
CONSULTATION_STATES = ("draft", "moderation", "forwarded", "active", "closed", "archived")
COMMENT_STATES = ("pending", "published", "rejected")
PUBLIC = ("active", "closed", "archived")


def roles(default: str, **cells: str) -> dict[str, str]:
    """Every role → ``default`` except those named."""
    unknown = set(cells) - set(ROLES)
    assert not unknown, unknown
    return {role: cells.get(role, default) for role in ROLES}


def only(ok: str, *who: str, others: str = "403") -> dict[str, str]:
    """A role-gated route: ``who`` get ``ok``, the anonymous 401, everyone else ``others``."""
    return roles(others, anonymous="401", **{w: ok for w in who})


EVERYONE = roles("2xx")
LOGGED_IN = roles("2xx", anonymous="401")


def per_state(states=CONSULTATION_STATES, **cells: dict[str, str]) -> dict[str, dict[str, str]]:
    assert set(cells) == set(states), (set(states) ^ set(cells))
    return {s: cells[s] for s in states}


def readable() -> dict[str, dict[str, str]]:
    """What GET of a consultation (or anything on it) answers, by state."""
    return per_state(draft=roles("404", owner="2xx", moderator="2xx"), moderation=roles("404", moderator="2xx"),
                     forwarded=roles("404", owner="2xx", moderator="2xx"),
                     active=EVERYONE, closed=EVERYONE, archived=EVERYONE)


def participation() -> dict[str, dict[str, str]]:
    """Commenting and answering: eligible, consented persons while active (R-1.3, R-3.12)."""
    closed = roles("409", anonymous="401", ineligible="403")
    return per_state(draft=roles("404", anonymous="401", ineligible="403", owner="409", moderator="409"),
                     moderation=roles("404", anonymous="401", ineligible="403", moderator="409"),
                     forwarded=roles("404", anonymous="401", ineligible="403", owner="409", moderator="409"),
                     active=roles("2xx", anonymous="401", ineligible="403"), closed=closed, archived=closed)


def owner_action(draft: str, active: str, closed: str, archived: str,
                 extra: dict[str, dict[str, str]] | None = None, forwarded: str = "409") -> dict[str, dict[str, str]]:
    """A route for officials of the owning unit (R-3.2): others get 403 from the role gate, an
    official of another unit 404 where the object is hidden from them and 403 where it is public."""
    gate = dict(anonymous="401", resident="403", ineligible="403", head="403", moderator="403", admin="403")
    cells = {
        "draft": roles("404", **gate, owner=draft),
        "moderation": roles("404", **gate),
        "forwarded": roles("404", **gate, owner=forwarded),
        "active": roles("403", **gate, owner=active),
        "closed": roles("403", **gate, owner=closed),
        "archived": roles("403", **gate, owner=archived),
    }
    for state, over in (extra or {}).items():
        cells[state] = {**cells[state], **over}
    return cells


def before_report(**cells: dict[str, str]) -> dict[str, dict[str, str]]:
    """A reports route (R-3.16): no report exists before closing (the snapshot is taken on
    ``consultation_closed``), so every state before ``closed`` answers 404 to everyone who passes
    the role gate; ``cells`` gives ``closed`` (a snapshot, the report not yet published) and
    ``archived`` (the report published, then archived)."""
    return per_state(**{s: roles("404") for s in ("draft", "moderation", "forwarded", "active")}, **cells)


# who sees a report before it is published (services/reports/rules.py ``insider``)
REPORT_INSIDERS = roles("404", owner="2xx", moderator="2xx", admin="2xx")


def report_change(closed: str, archived: str) -> dict[str, dict[str, str]]:
    """Preparing the report: officials of the owning unit only (R-3.2, R-3.16; the gateway's role
    gate, then the service). Before closing there is no report (404); an unpublished report is
    hidden from officials of other units (404), a published one is public (403); archived: 409."""
    hidden = {"other_official": "404"}
    return owner_action("404", "404", closed, archived, {"active": hidden, "closed": hidden}, forwarded="404")


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    expect: dict  # role → cell, or state → role → cell
    states: tuple[str, ...] = ()  # the object states the route is tried in (empty: no object)
    note: str = ""
    web: bool = False  # a web page (gateway/web/), not in /openapi.json


API = "/api/v1"
C = API + "/consultations/{consultation_id}"
R = C + "/report"

MATRIX: list[Row] = [
    # ---- operations, documents ---------------------------------------------------------------
    Row("GET", "/healthz", EVERYONE),
    Row("GET", "/readyz", EVERYONE),
    Row("GET", "/readyz/{service}", EVERYONE),
    # ---- web pages outside /openapi.json (docs/web.md) -----------------------------------------
    Row("GET", "/accessibility", EVERYONE, web=True, note="the accessibility statement (docs/accessibility.md)"),
    # ---- login and the cabinet (R-2.3, R-2.4, R-3.5) -----------------------------------------
    Row("GET", API + "/auth/login", roles("3xx")),
    Row("GET", API + "/auth/callback", roles("422"), note="no state cookie: refused for everyone"),
    Row("POST", API + "/auth/dev-login", EVERYONE, note="only with AUTH_DEV_LOGIN=1"),
    Row("POST", API + "/auth/logout", LOGGED_IN),
    Row("GET", API + "/consent", EVERYONE),
    Row("GET", API + "/me", LOGGED_IN),
    Row("PUT", API + "/me", LOGGED_IN),
    Row("DELETE", API + "/me", LOGGED_IN),
    Row("POST", API + "/me/consent", LOGGED_IN),
    Row("GET", API + "/me/export", LOGGED_IN),
    Row("GET", API + "/me/comments", LOGGED_IN),
    Row("GET", API + "/me/initiatives", LOGGED_IN),
    Row("GET", API + "/me/notifications", LOGGED_IN),
    Row("POST", API + "/me/notifications/read", LOGGED_IN),
    Row("GET", API + "/me/feedback", LOGGED_IN),
    # "you said, we did": nobody in the matrix authored a proposal in these reports, so every
    # consultation answers 404 for every logged-in caller (hidden: another's or none), whatever its state
    Row("GET", API + "/me/feedback/{consultation_id}", per_state(**{s: roles("404", anonymous="401")
                                                                     for s in CONSULTATION_STATES}),
        CONSULTATION_STATES),
    Row("GET", "/me/feedback/{consultation_id}", per_state(**{s: roles("404", anonymous="3xx", partner="3xx")
                                                          for s in CONSULTATION_STATES}),
        CONSULTATION_STATES, web=True, note="the cabinet's page of the same; without a session: to the login"),
    Row("GET", API + "/units", EVERYONE),
    Row("GET", API + "/organisations", EVERYONE),
    Row("POST", API + "/organisations", LOGGED_IN),
    # ---- administration (R-2.1) --------------------------------------------------------------
    Row("GET", API + "/admin/audit", only("2xx", "admin")),
    Row("GET", API + "/admin/organisations", only("2xx", "admin")),
    Row("POST", API + "/admin/organisations/{organisation_id}/confirm", only("2xx", "admin")),
    Row("GET", API + "/admin/persons/{person_id}", only("2xx", "admin")),
    Row("POST", API + "/admin/persons/{person_id}/roles", only("2xx", "admin")),
    Row("DELETE", API + "/admin/persons/{person_id}/roles/{role_id}", only("2xx", "admin")),
    Row("POST", API + "/admin/units", only("2xx", "admin")),
    # ---- consultations (R-3.10, R-3.13) ------------------------------------------------------
    Row("GET", API + "/categories", EVERYONE),
    Row("GET", API + "/consultations", EVERYONE),
    Row("POST", API + "/consultations", roles("2xx", anonymous="401", ineligible="403"),
        note="officials draft, everyone else eligible files an initiative (R-3.10)"),
    Row("GET", C, readable(), CONSULTATION_STATES),
    Row("PATCH", C, owner_action("2xx", "409", "409", "409"), CONSULTATION_STATES),
    Row("POST", C + "/publish", owner_action("2xx", "409", "409", "409"), CONSULTATION_STATES),
    Row("POST", C + "/archive", owner_action("409", "409", "2xx", "409", {
        "draft": {"admin": "404"}, "moderation": {"admin": "404"}, "forwarded": {"admin": "404"}, "active": {"admin": "409"}, "closed": {"admin": "2xx"}, "archived": {"admin": "409"}}), CONSULTATION_STATES,
        note="the owning unit or an administrator, once closed (R-1.11)"),
    Row("POST", C + "/attachments", owner_action("2xx", "2xx", "2xx", "409", forwarded="2xx"), CONSULTATION_STATES,
        note="the unit an initiative was passed to may add materials before its conclusion"),
    Row("GET", C + "/attachments/{attachment_id}", readable() | {"moderation": roles("404"), "forwarded": roles("404")},
        CONSULTATION_STATES, note="an initiative has no attachment: 404 for all"),
    Row("POST", C + "/decision", owner_action("409", "409", "2xx", "409"), CONSULTATION_STATES),
    Row("POST", C + "/initiative-decision", owner_action("409", "409", "409", "409", forwarded="2xx"),
        CONSULTATION_STATES, note="only an initiative forwarded to the unit awaits its conclusion (R-3.10)"),
    Row("POST", C + "/versions", owner_action("422", "422", "422", "422", forwarded="422"), CONSULTATION_STATES,
        note="the state objects are proposals: only draft acts have versions (test_draft_acts)"),
    Row("GET", C + "/versions/{a}/diff/{b}", readable() | {s: roles("404") for s in CONSULTATION_STATES},
        CONSULTATION_STATES, note="a proposal has no versions: 404 for all, hidden or not"),
    Row("GET", C + "/page", readable(), CONSULTATION_STATES),
    Row("GET", C + "/comments", readable(), CONSULTATION_STATES),
    Row("POST", C + "/comments", participation(), CONSULTATION_STATES),
    Row("POST", C + "/responses", participation(), CONSULTATION_STATES),
    Row("POST", C + "/offline-comments", owner_action("409", "2xx", "2xx", "409"), CONSULTATION_STATES,
        note="a submission received offline: the owning unit, while active and after closing until the report "
             "is published (the closed object's report is not; the archived one's is)"),
    Row("GET", C + "/pack.pdf", readable(), CONSULTATION_STATES,
        note="the printable pack: for whoever may see the consultation"),
    Row("GET", C + "/results", readable(), CONSULTATION_STATES),
    Row("GET", C + "/notifications", per_state(
        draft=roles("403", anonymous="401", owner="404", other_official="404", moderator="404", admin="404"),
        moderation=roles("403", anonymous="401", owner="404", other_official="404", moderator="404", admin="404"),
        forwarded=roles("403", anonymous="401", owner="404", other_official="404", moderator="404", admin="404"),
        **{s: roles("403", anonymous="401", owner="2xx", other_official="2xx", moderator="2xx", admin="2xx")
           for s in PUBLIC}), CONSULTATION_STATES,
        note="hidden objects 404 (checked with consultations first); drafts and initiatives have no fan-out"),
    Row("GET", API + "/deadlines", only("2xx", "owner", "other_official", "moderator", "admin")),
    # ---- comments (R-3.7, R-3.9) -------------------------------------------------------------
    Row("POST", API + "/comments/{comment_id}/reports", per_state(
        COMMENT_STATES, pending=roles("404", anonymous="401"), published=LOGGED_IN,
        rejected=roles("404", anonymous="401")), COMMENT_STATES),
    Row("POST", API + "/comments/{comment_id}/not-mine", per_state(
        COMMENT_STATES, pending=roles("404", anonymous="401"), published=roles("404", anonymous="401"),
        rejected=roles("404", anonymous="401")), COMMENT_STATES,
        note="only the person the comment is signed with (tests/e2e/test_organisations.py); the matrix's "
             "comments are by a resident of their own, so 404 for every role"),
    # ---- moderation (R-2.1, R-3.10) ----------------------------------------------------------
    Row("GET", API + "/moderation/grounds", EVERYONE),
    Row("GET", API + "/moderation/queue", only("2xx", "moderator"),
        note="query: after (keyset cursor), limit, consultation_id, kind, rule"),
    Row("GET", API + "/moderation/audit", only("2xx", "moderator")),
    Row("GET", API + "/moderation/stats", only("2xx", "moderator")),
    Row("POST", API + "/moderation/cases/{case_id}/decision", only("2xx", "moderator")),
    # ---- openness and the plan (R-1.4, R-1.7, R-3.3) -----------------------------------------
    Row("GET", API + "/feeds/consultations.atom", EVERYONE),
    Row("GET", API + "/feeds/consultations.ics", EVERYONE),
    Row("GET", API + "/open-data/consultations.json", EVERYONE),
    Row("GET", API + "/open-data/consultations.csv", EVERYONE),
    Row("GET", API + "/plan/{year}", EVERYONE),
    Row("GET", API + "/plan/{year}.ics", EVERYONE),
    Row("POST", API + "/plan/{year}/entries", roles("2xx", anonymous="401", ineligible="403")),
    Row("PATCH", API + "/plan/entries/{entry_id}", only("2xx", "owner", "other_official")),
    # ---- reports: the closed object has a snapshot and an
    # unpublished report, the archived one a published report and its archive bundle ------------
    Row("GET", R, before_report(closed=REPORT_INSIDERS, archived=EVERYONE), CONSULTATION_STATES,
        note="unpublished: the owning unit, moderators, administrators; published: public"),
    *[Row("GET", R + "." + fmt, before_report(closed=roles("404"), archived=EVERYONE), CONSULTATION_STATES,
          note="files of published versions only") for fmt in ("html", "pdf", "csv", "json", "xlsx")],
    Row("GET", R + "/versions", before_report(closed=REPORT_INSIDERS, archived=EVERYONE), CONSULTATION_STATES),
    Row("GET", R + "/considerations", before_report(closed=REPORT_INSIDERS, archived=EVERYONE), CONSULTATION_STATES,
        note="part of the published report (R-3.16); before that, the insiders"),
    Row("PUT", R + "/considerations", report_change("2xx", "409"), CONSULTATION_STATES),
    Row("PUT", R + "/considerations/bulk", report_change("2xx", "409"), CONSULTATION_STATES),
    Row("GET", R + "/groups", before_report(closed=REPORT_INSIDERS, archived=EVERYONE), CONSULTATION_STATES,
        note="groups of near-identical proposals (R-3.16): as the considerations"),
    Row("GET", R + "/groups/{group_id}", before_report(closed=REPORT_INSIDERS, archived=roles("404")),
        CONSULTATION_STATES, note="the closed object's proposal is a group; the archived object has no proposals, "
        "so the group named is unknown (404) for everyone"),
    Row("PUT", R + "/groups/{group_id}/consideration", report_change("2xx", "409"), CONSULTATION_STATES),
    Row("POST", R + "/groups/{group_id}/split", report_change("2xx", "409"), CONSULTATION_STATES),
    Row("PUT", R + "/conclusion", report_change("2xx", "409"), CONSULTATION_STATES),
    Row("POST", R + "/publish", report_change("2xx", "409"), CONSULTATION_STATES),
    Row("POST", R + "/snapshot", per_state(
        **{s: roles("404", anonymous="401", resident="403", ineligible="403", head="403", moderator="403")
           for s in ("draft", "moderation", "forwarded")},
        active=roles("403", anonymous="401", owner="409", admin="409"),
        closed=roles("403", anonymous="401", owner="2xx", other_official="404", admin="2xx"),
        archived=roles("403", anonymous="401", owner="409", admin="409")), CONSULTATION_STATES,
        note="the owning unit or an administrator; not before closing (409), not once archived (409)"),
    Row("DELETE", R, per_state(
        **{s: roles("403", anonymous="401", admin="404") for s in ("draft", "moderation", "forwarded", "active")},
        closed=roles("403", anonymous="401", admin="2xx"), archived=roles("403", anonymous="401", admin="409")),
        CONSULTATION_STATES, note="administrators drop an unpublished report; archived: kept five years (R-1.11)"),
    *[Row("GET", C + path, before_report(closed=EVERYONE, archived=EVERYONE), CONSULTATION_STATES,
          note="full for the insiders, published comments only for everyone else (R-3.14)")
      for path in ("/protocol", "/protocol.csv", "/protocol.pdf")],
    *[Row("GET", C + path, before_report(closed=roles("404"), archived=EVERYONE), CONSULTATION_STATES,
          note="built on consultation_archived (R-1.11)") for path in ("/archive/bundle.zip", "/archive/manifest.sha256")],
    Row("GET", API + "/reports/stats", EVERYONE),
    Row("GET", C + "/participation", owner_action("409", "2xx", "409", "409", {
        s: {"other_official": "404"} for s in ("active", "closed", "archived")}), CONSULTATION_STATES,
        note="the owning unit while active (R-3.12); hidden from officials of other units (404)"),
    # ---- notifications (RFC 8058) ------------------------------------------------------------
    Row("POST", API + "/unsubscribe", roles("422"), note="a forged token changes nothing, for anyone"),
    # ---- webhooks and the event feed (docs/webhooks.md, docs/events.md) ------------------------
    Row("GET", API + "/admin/webhooks", only("2xx", "admin")),
    Row("POST", API + "/admin/webhooks", only("2xx", "admin")),
    Row("GET", API + "/admin/webhooks/{subscription_id}", only("2xx", "admin")),
    Row("DELETE", API + "/admin/webhooks/{subscription_id}", only("2xx", "admin")),
    Row("POST", API + "/admin/webhooks/{subscription_id}/rotate-secret", only("2xx", "admin")),
    Row("GET", API + "/admin/webhooks/{subscription_id}/deliveries", only("2xx", "admin")),
    Row("POST", API + "/admin/webhooks/{subscription_id}/deliveries/{delivery_id}/resend", only("404", "admin"),
        note="no event has reached the fresh subscription: its delivery ids name nothing"),
    Row("POST", API + "/admin/webhooks/{subscription_id}/replay", only("2xx", "admin")),
    Row("GET", API + "/events", only("2xx", "admin")),
    Row("GET", API + "/admin/api-keys", only("2xx", "admin")),
    Row("POST", API + "/admin/api-keys", only("2xx", "admin")),
    Row("DELETE", API + "/admin/api-keys/{key_id}", only("2xx", "admin")),
]


def _partner(row: Row) -> Row:
    """A partner's API key (gateway.api_keys) reads what the anonymous read on the routes of its scopes
    (hidden objects stay 404) and the event feed; on every other API route, and on any write, it is
    refused (403); outside the API it counts for nothing (the anonymous cell)."""
    from gateway.api_keys import SCOPES

    readable = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule) for rule in SCOPES}

    def cell(cells: dict[str, str]) -> str:
        if not row.path.startswith(API + "/"):
            return cells["anonymous"]
        if row.method != "GET" or row.path not in readable:
            return "403"
        return "2xx" if row.path == API + "/events" else cells["anonymous"]

    if row.states:
        expect = {state: {**cells, "partner": cell(cells)} for state, cells in row.expect.items()}
    else:
        expect = {**row.expect, "partner": cell(row.expect)}
    return Row(row.method, row.path, expect, row.states, row.note, row.web)


MATRIX = [_partner(row) for row in MATRIX]


def lookup(method: str, path: str) -> Row | None:
    for row in MATRIX:
        if row.method == method.upper() and row.path == path:
            return row
    return None


def missing_rows(openapi: dict) -> list[str]:
    """Routes of the OpenAPI document with no row (the acceptance check)."""
    return sorted(f"{m.upper()} {p}" for p, ops in openapi["paths"].items() for m in ops
                  if lookup(m, p) is None)
