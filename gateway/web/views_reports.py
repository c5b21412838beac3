"""The R-3.16 report in the web pages: the owning unit's consideration table (one proposal or many at
once, a justification unless accepted), the generalised conclusion, publishing (refused while
anything is missing; 202 and a timer renders the version, R-3.17) and, for everyone, the «Звіт»
section of the consultation page. Every call goes through ``gateway.routes_reports``' helpers, the
same ones the API views use; the reports service decides who may see and change what."""
from __future__ import annotations

import uuid
from urllib.parse import urlencode

from flask import redirect, request

from chassis.errors import NotFound
from contracts.consultations import ConsultationOut
from contracts.identity import Role
from contracts.reports import AGE_BAND_LABELS, CHANNEL_LABELS, RESPONDENT_TYPE_LABELS
from contracts.reports import (PROTOCOL_FORMATS, REPORT_FORMATS, OUTCOME_LABELS, BulkConsiderationIn,
                               ConclusionIn, Consideration, ConsiderationIn, Outcome, ReportOut, SplitIn)
from gateway import auth, routes_consultations as consultations, routes_reports as reports
from gateway.clients import consultations as svc
from gateway.web import forms, notify, page, web

PER_PAGE = 50
GROUPS_PER_PAGE = 10
AGE_BANDS_UK = AGE_BAND_LABELS
OUTCOMES_UK = {o.value: label for o, label in OUTCOME_LABELS.items()}
REPORT_STATUS_UK = {"draft": "готується", "published": "оприлюднено"}


def owns(c: ConsultationOut) -> bool:
    """The consultations service shows the R-3.13 checklist only to officials of the owning unit."""
    return c.missing_for_publication is not None


def report_or_none(cid: uuid.UUID) -> ReportOut | None:
    """The report when the caller may see it (published, or the owning unit before that)."""
    try:
        return reports.report_of(cid)
    except NotFound:
        return None


def versions_with_files(cid: uuid.UUID, report: ReportOut | None) -> list[tuple]:
    """Newest first: (version, links to its HTML/PDF/CSV/JSON/XLSX)."""
    if report is None:
        return []
    return [(v, [(fmt.upper(), reports.file_url(cid, fmt, v.version)) for fmt in REPORT_FORMATS if fmt in v.files])
            for v in sorted(report.versions, key=lambda v: v.version, reverse=True)]


def report_context(c: ConsultationOut) -> dict:
    """What the consultation page's «Звіт» section shows (closed or archived consultations)."""
    if c.status.value not in ("closed", "archived"):
        return {"report": None, "owner": owns(c)}
    report = report_or_none(c.id)
    return {"report": report, "report_versions": versions_with_files(c.id, report), "owner": owns(c),
            "AGE_BANDS_UK": AGE_BANDS_UK, "REPORT_STATUS_UK": REPORT_STATUS_UK,
            "RESPONDENT_TYPES_UK": RESPONDENT_TYPE_LABELS, "CHANNELS_UK": CHANNEL_LABELS,
            "protocol_links": [(f.upper(), reports.file_url(c.id, "protocol." + f)) for f in PROTOCOL_FORMATS]}


# ---- the owning unit's desk ---------------------------------------------------------------------

@web.route("/official/consultations/<uuid:cid>/participation")
def official_participation(cid: uuid.UUID):
    """Who has taken part so far and who is missing, while the consultation runs (R-3.12): the
    owning unit only; the reports service answers 404 to anyone else."""
    auth.require_role(Role.official)
    c = svc.get(consultations.actor(), cid)
    return page("participation.html", c=c, p=reports.participation_of(cid))


def pager_window(current: int, pages: int, span: int = 3) -> list[int | None]:
    """Page links for thousands of proposals: the first, the last and ``span`` either side of the
    current one; ``None`` marks a gap (shown as «…»)."""
    shown = sorted({1, pages, *range(max(1, current - span), min(pages, current + span) + 1)})
    out: list[int | None] = []
    for n in shown:
        if out and n - out[-1] > 1:
            out.append(None)
        out.append(n)
    return out


def _state() -> tuple[int, bool]:
    """The table's page and filter, from the query or a form's hidden fields."""
    try:
        page_no = max(1, min(int(request.values.get("page", 1)), 100_000))
    except ValueError:
        page_no = 1
    return page_no, request.values.get("missing") == "1"


def _group_page() -> int:
    try:
        return max(1, min(int(request.values.get("gpage", 1)), 100_000))
    except ValueError:
        return 1


def _desk_url(cid: uuid.UUID, anchor: str = "", **extra) -> str:
    page_no, missing = _state()
    query = {k: v for k, v in {"page": page_no if page_no > 1 else None, "missing": "1" if missing else None,
                               **extra}.items() if v is not None}
    return f"/official/consultations/{cid}/report" + ("?" + urlencode(query) if query else "") + anchor


def _desk(cid: uuid.UUID, status: int = 200):
    auth.require_role(Role.official)
    c = svc.get(consultations.actor(), cid)
    if not owns(c):
        raise NotFound("Консультацію не знайдено")
    report = report_or_none(cid) if c.status.value in ("closed", "archived") else None
    page_no, missing = _state()
    proposals = reports.proposals_of(cid, reports.ProposalQuery(page=page_no, per_page=PER_PAGE, missing=missing)) \
        if report else None
    try:
        queued = int(request.args.get("queued", 0))
    except ValueError:
        queued = 0
    forming = bool(report and queued and not any(v.version >= queued for v in report.versions))
    groups = reports.groups_of(cid, reports.GroupsQuery(page=_group_page(), per_page=GROUPS_PER_PAGE)) \
        if report else None
    return page("report_desk.html", status, c=c, report=report, proposals=proposals, missing=missing, groups=groups,
                group_pager=pager_window(_group_page(), max(1, -(-groups.total // GROUPS_PER_PAGE))) if groups else [1],
                group_page=_group_page(),
                pager=pager_window(page_no, max(1, -(-proposals.total // PER_PAGE))) if proposals else [1],
                page_no=page_no,
                forming=forming, queued=queued, versions=versions_with_files(cid, report),
                outcomes=[(o.value, OUTCOMES_UK[o.value]) for o in Outcome], OUTCOMES_UK=OUTCOMES_UK,
                can_snapshot=c.status.value == "closed" and (report is None or not report.versions),
                AGE_BANDS_UK=AGE_BANDS_UK, REPORT_STATUS_UK=REPORT_STATUS_UK,
                RESPONDENT_TYPES_UK=RESPONDENT_TYPE_LABELS, CHANNELS_UK=CHANNEL_LABELS)


@web.route("/official/consultations/<uuid:cid>/report")
def report_desk(cid: uuid.UUID):
    return _desk(cid)


@web.route("/official/consultations/<uuid:cid>/report/considerations/<uuid:comment_id>", methods=["POST"])
def report_consider(cid: uuid.UUID, comment_id: uuid.UUID):
    """One proposal; the row's own fields ``outcome-<id>`` and ``justification-<id>``."""
    auth.require_role(Role.official)
    try:
        body = forms.parse(ConsiderationIn, {"comment_id": str(comment_id),
                                             "outcome": request.form.get(f"outcome-{comment_id}", ""),
                                             "justification": forms.text(f"justification-{comment_id}")})
        forms.attempt(lambda: reports.consider(cid, body))
    except forms.Invalid as exc:
        exc.errors = {(f"{k}-{comment_id}" if k in ("outcome", "justification") else k): v
                      for k, v in exc.errors.items()}
        forms.keep(exc)
        return _desk(cid, 422)
    notify("Розгляд пропозиції збережено.")
    return redirect(_desk_url(cid, f"#p-{comment_id}"), 303)


@web.route("/official/consultations/<uuid:cid>/report/considerations", methods=["POST"])
def report_consider_bulk(cid: uuid.UUID):
    """The ticked rows (``comment_ids``), one consideration and justification for all of them."""
    auth.require_role(Role.official)
    try:
        ids = request.form.getlist("comment_ids")
        if not ids:
            raise forms.Invalid({"comment_ids": "позначте принаймні одну пропозицію"}, "Перевірте виділені поля")
        body = forms.parse(BulkConsiderationIn, {"comment_ids": ids, "outcome": request.form.get("outcome", ""),
                                                 "justification": forms.text("justification")})
        updated = forms.attempt(lambda: reports.consider_bulk(cid, body))
    except forms.Invalid as exc:
        exc.errors = {("comment_ids" if k.startswith("comment_ids") else k): v for k, v in exc.errors.items()}
        forms.keep(exc)
        return _desk(cid, 422)
    notify(f"Розгляд збережено для пропозицій: {updated.updated}.")
    return redirect(_desk_url(cid, "#proposals"), 303)


@web.route("/official/consultations/<uuid:cid>/report/conclusion", methods=["POST"])
def report_conclusion(cid: uuid.UUID):
    auth.require_role(Role.official)
    try:
        body = forms.parse(ConclusionIn, {"conclusion": request.form.get("conclusion", "")})
        forms.attempt(lambda: reports.set_conclusion(cid, body))
    except forms.Invalid as exc:
        forms.keep(exc)
        return _desk(cid, 422)
    notify("Узагальнений висновок збережено.")
    return redirect(_desk_url(cid, "#conclusion"), 303)


@web.route("/official/consultations/<uuid:cid>/report/publish", methods=["POST"])
def report_publish(cid: uuid.UUID):
    """Refused (what is missing shown) or queued: the page says «звіт формується» until the timer has
    rendered the version (R-3.16, R-3.17)."""
    auth.require_role(Role.official)
    try:
        queued = forms.attempt(lambda: reports.publish(cid))
    except forms.Invalid as exc:
        forms.keep(exc, {})
        return _desk(cid, 422)
    notify(f"Звіт (версія {queued.next_version}) формується; посилання на файли з'являться за кілька секунд.")
    return redirect(_desk_url(cid, "#versions", queued=queued.next_version), 303)


@web.route("/official/consultations/<uuid:cid>/report/snapshot", methods=["POST"])
def report_snapshot(cid: uuid.UUID):
    """Take the snapshot again: only while no version is published (the API refuses it after)."""
    auth.require_role(Role.official)
    try:
        forms.attempt(lambda: reports.take_snapshot(cid))
    except forms.Invalid as exc:
        forms.keep(exc, {})
        return _desk(cid, 422)
    notify("Перелік пропозицій оновлено з консультації.")
    return redirect(_desk_url(cid), 303)


# ---- groups of near-identical proposals (R-3.16) --------------------------------------------------

def _group(cid: uuid.UUID, group_id: uuid.UUID, status: int = 200):
    """The owning unit's page of a group: one RPC (the reports service knows the title and the
    owning unit from its snapshot, as it does for the group's writes)."""
    auth.require_role(Role.official)
    page_no, _ = _state()
    detail = reports.group_of(cid, group_id, reports.MembersQuery(page=page_no, per_page=PER_PAGE))
    if not detail.owner:
        raise NotFound("Консультацію не знайдено")
    c = {"id": cid, "title": detail.title}
    return page("report_group.html", status, c=c, detail=detail, page_no=page_no,
                pager=pager_window(page_no, max(1, -(-detail.total // PER_PAGE))),
                outcomes=[(o.value, OUTCOMES_UK[o.value]) for o in Outcome], OUTCOMES_UK=OUTCOMES_UK,
                editable=detail.editable)


def _group_url(cid: uuid.UUID, group_id: uuid.UUID, anchor: str = "") -> str:
    page_no, _ = _state()
    return f"/official/consultations/{cid}/report/groups/{group_id}" + (f"?page={page_no}" if page_no > 1 else "") \
        + anchor


@web.route("/official/consultations/<uuid:cid>/report/groups/<uuid:group_id>")
def report_group(cid: uuid.UUID, group_id: uuid.UUID):
    """A group: the representative, its authors, its members with what each changes in the text."""
    return _group(cid, group_id)


@web.route("/official/consultations/<uuid:cid>/report/groups/<uuid:group_id>/consideration", methods=["POST"])
def report_group_consider(cid: uuid.UUID, group_id: uuid.UUID):
    """One consideration and justification for the whole group (stored for each proposal);
    ``back=desk`` returns to the desk's list of groups."""
    auth.require_role(Role.official)
    try:
        body = forms.parse(Consideration, {"outcome": request.form.get("outcome", ""),
                                           "justification": forms.text("justification")})
        updated = forms.attempt(lambda: reports.consider_group(cid, group_id, body))
    except forms.Invalid as exc:
        forms.keep(exc)
        return _group(cid, group_id, 422)
    notify(f"Розгляд збережено для всієї групи: {updated.updated} пропозицій.")
    if request.form.get("back") == "desk":
        return redirect(_desk_url(cid, "#groups", gpage=_group_page() if _group_page() > 1 else None), 303)
    return redirect(_group_url(cid, group_id, "#group-consider"), 303)


@web.route("/official/consultations/<uuid:cid>/report/groups/<uuid:group_id>/split", methods=["POST"])
def report_group_split(cid: uuid.UUID, group_id: uuid.UUID):
    """Take one member out of the group: it is then considered alone in the proposals' table."""
    auth.require_role(Role.official)
    try:
        body = forms.parse(SplitIn, {"comment_id": request.form.get("comment_id", "")})
        forms.attempt(lambda: reports.split_group(cid, group_id, body))
    except forms.Invalid as exc:
        forms.keep(exc, {})
        return _group(cid, group_id, 422)
    notify("Пропозицію виокремлено з групи: розгляньте її окремо в переліку пропозицій.")
    return redirect(_group_url(cid, group_id), 303)
