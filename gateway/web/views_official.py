"""Officials' pages: drafting with the R-3.13 checklist, publishing, the decision (R-3.18) and the
deadlines due and overdue (R-3.10, R-3.17, R-3.18)."""
from __future__ import annotations

import uuid

from flask import redirect, request

from chassis.workdays import local_today
from contracts.consultations import (CHANNEL_LABELS, NOTICE_LABELS, OFFLINE_CHANNELS, ConsultationIn, ConsultationOut,
                                     ConsultationPatch, DecisionIn, Notice, OfflineCommentIn)
from contracts.identity import Role
from gateway import auth, routes_consultations as consultations, routes_files as files
from gateway.clients import consultations as svc
from gateway.web import forms, notify, page, web

OFFICIAL = (Role.official,)
MULTIPLE_MARK = "[кілька]"


def parse_questions(text: str) -> list[dict]:
    """Survey questions typed as blocks separated by a blank line: the first line is the question
    (``[кілька]`` in front for several answers), the lines after it the options; no options means
    a free-text answer."""
    questions = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        rows = [r.strip() for r in block.split("\n") if r.strip()]
        if not rows:
            continue
        head, options = rows[0], [r.lstrip("-–• ").strip() for r in rows[1:]]
        multiple = head.startswith(MULTIPLE_MARK)
        head = head[len(MULTIPLE_MARK):].strip() if multiple else head
        kind = "text" if not options else ("multiple" if multiple else "single")
        questions.append({"text": head, "kind": kind, "options": options})
    return questions


def questions_text(c: ConsultationOut) -> str:
    blocks = []
    for q in c.questions:
        head = (MULTIPLE_MARK + " " if q.kind.value == "multiple" else "") + q.text
        blocks.append("\n".join([head] + [o.text for o in q.options]))
    return "\n\n".join(blocks)


def consultation_body(patch: bool = False) -> dict:
    """The drafting form as the API's request body (ConsultationIn / ConsultationPatch)."""
    data = {"title": request.form.get("title", ""), "question": request.form.get("question", ""),
            "category": forms.text("category"),
            "alternatives": [{"text": t} for t in forms.lines("alternatives")],
            "questions": parse_questions(request.form.get("questions", "")),
            "draft_text": forms.text("draft_text"),
            "notice": {name: forms.text(name) for name in Notice.model_fields},
            "starts_on": forms.text("starts_on"), "ends_on": forms.text("ends_on")}
    if not patch:
        data["form"] = request.form.get("form", "")
    else:
        data = {k: v for k, v in data.items() if k != "draft_text" or v}
    return data


def form_values(c: ConsultationOut) -> dict:
    values = {"form": c.form.value, "title": c.title, "question": c.question, "category": str(c.category),
              "alternatives": "\n".join(a.text for a in c.alternatives), "questions": questions_text(c),
              "draft_text": "\n\n".join(p.text for p in c.paragraphs),
              "starts_on": c.starts_on.isoformat() if c.starts_on else "",
              "ends_on": c.ends_on.isoformat() if c.ends_on else ""}
    values.update({name: getattr(c.notice, name) or "" for name in Notice.model_fields})
    return values


def form_page(c: ConsultationOut | None, status: int = 200, initiative: bool = False):
    from flask import g

    if c is not None and not g.get("form_values"):
        g.form_values = form_values(c)
    missing = [(m, NOTICE_LABELS.get(m, m)) for m in (c.missing_for_publication or [])] if c else []
    return page("consultation_form.html", status, c=c, initiative=initiative, missing=missing,
                notice_fields=[(n, NOTICE_LABELS[n]) for n in Notice.model_fields])


def _get(cid: uuid.UUID) -> ConsultationOut:
    return svc.get(consultations.actor(), cid)


@web.route("/official")
def official():
    auth.require_role(*OFFICIAL, Role.moderator, Role.admin)
    overdue_only = request.args.get("overdue") == "1"
    deadlines = svc.deadlines(consultations.actor(), overdue_only)
    return page("official.html", deadlines=deadlines.items, overdue_only=overdue_only)


def new_consultation(initiative: bool):
    """The drafting form: GET shows it, POST creates an official's draft or an initiative through
    the API's own rule (``routes_consultations.create``)."""
    if request.method == "POST":
        try:
            body = forms.parse(ConsultationIn, consultation_body())
            created = forms.attempt(lambda: consultations.create(body))
        except forms.Invalid as exc:
            forms.keep(exc)
            return form_page(None, 422, initiative=initiative)
        if initiative:
            notify("Ініціативу надіслано. Ваше повідомлення знаходиться на модерації.")
            return redirect(f"/consultations/{created.id}", 303)
        notify("Чернетку збережено. Перевірте перелік того, чого бракує до оприлюднення.")
        return redirect(f"/official/consultations/{created.id}", 303)
    return form_page(None, initiative=initiative)


@web.route("/official/new", methods=["GET", "POST"])
def official_new():
    auth.require_role(*OFFICIAL)
    return new_consultation(initiative=False)


@web.route("/official/consultations/<uuid:cid>", methods=["GET", "POST"])
def official_edit(cid: uuid.UUID):
    auth.require_role(*OFFICIAL)
    if request.method == "POST":
        try:
            body = forms.parse(ConsultationPatch, consultation_body(patch=True))
            forms.attempt(lambda: svc.update_draft(consultations.actor(), cid, body))
        except forms.Invalid as exc:
            forms.keep(exc)
            return form_page(_get(cid), 422)
        notify("Чернетку збережено.")
        return redirect(f"/official/consultations/{cid}", 303)
    return form_page(_get(cid))


@web.route("/official/consultations/<uuid:cid>/publish", methods=["POST"])
def official_publish(cid: uuid.UUID):
    auth.require_role(*OFFICIAL)
    try:
        published = forms.attempt(lambda: svc.publish(consultations.actor(), cid))
    except forms.Invalid as exc:
        forms.keep(exc, {})
        return form_page(_get(cid), 422)
    notify("Консультацію оприлюднено." if published.status.value == "active"
           else "Консультацію оприлюднено; вона розпочнеться " + str(published.starts_on) + ".")
    return redirect(f"/consultations/{cid}", 303)


@web.route("/official/consultations/<uuid:cid>/attachments", methods=["POST"])
def official_attach(cid: uuid.UUID):
    """Materials (R-3.13) and, once the decision is recorded, its files (R-3.18): the API's own check
    of the bytes, size and type (``routes_files.save_upload``)."""
    auth.require_role(*OFFICIAL)
    kind = request.form.get("kind") or "material"
    try:
        added = forms.attempt(lambda: files.save_upload(cid, request.files.get("file"), kind,
                                                        forms.text("attachment_title")))
    except forms.Invalid as exc:
        if "title" in exc.errors:  # the service names the file's title `title`: this form's field
            exc.errors["attachment_title"] = exc.errors.pop("title")
        c = _get(cid)
        forms.keep(exc, {**form_values(c), "attachment_title": request.form.get("attachment_title", ""),
                         "kind": kind})
        return form_page(c, 422)
    notify(f"Файл «{added.title}» додано.")
    return redirect(f"/official/consultations/{cid}#materials", 303)


@web.route("/official/consultations/<uuid:cid>/decision", methods=["POST"])
def official_decision(cid: uuid.UUID):
    auth.require_role(*OFFICIAL)
    try:
        body = forms.parse(DecisionIn, {k: request.form.get(k, "") for k in ("number", "adopted_on", "title", "text")})
        forms.attempt(lambda: svc.record_decision(consultations.actor(), cid, body))
    except forms.Invalid as exc:
        forms.keep(exc)
        return form_page(_get(cid), 422)
    notify("Рішення оприлюднено.")
    return redirect(f"/consultations/{cid}#decision", 303)


# ---- submissions received offline ----------------------------------------------------------------

OFFLINE_FIELDS = ("channel", "received_on", "author_name", "body", "alternative_id", "paragraph_id")


def offline_page(c: ConsultationOut, status: int = 200):
    return page("offline_form.html", status, c=c, today=local_today().isoformat(),
                channels=[(ch.value, CHANNEL_LABELS[ch.value]) for ch in OFFLINE_CHANNELS])


@web.route("/official/consultations/<uuid:cid>/offline", methods=["GET", "POST"])
def official_offline(cid: uuid.UUID):
    """A letter, an e-mail, a hearing's statement or a service centre's form typed in by an official of
    the owning unit: the scan first (``routes_files.save_upload``, kind ``scan``), then the API's own
    rule (``routes_consultations.add_offline_comment``)."""
    auth.require_role(*OFFICIAL)
    c = _get(cid)
    if request.method == "POST":
        values = {k: forms.text(k) for k in OFFLINE_FIELDS}
        try:
            body = forms.parse(OfflineCommentIn, {k: v for k, v in values.items() if v is not None})
            upload = request.files.get("file")
            if upload is not None and upload.filename:
                scan = forms.attempt(lambda: files.save_upload(cid, upload, "scan", f"Скан: {body.author_name}"))
                body = body.model_copy(update={"scan_id": scan.id})
            added = forms.attempt(lambda: consultations.add_offline_comment(cid, body))
        except forms.Invalid as exc:
            forms.keep(exc)
            return offline_page(c, 422)
        notify("Пропозицію зареєстровано" + (" й оприлюднено." if added.status == "published"
                                             else "; вона чекає на модерацію."))
        return redirect(f"/official/consultations/{cid}/offline", 303)
    return offline_page(c)
