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
                               ConclusionIn, ConsiderationIn, Outcome, ReportOut)
from gateway import auth, routes_consultations as consultations, routes_reports as reports
from gateway.clients import consultations as svc
from gateway.web import forms, notify, page, web

PER_PAGE = 50
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
    return page("report_desk.html", status, c=c, report=report, proposals=proposals, missing=missing,
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
