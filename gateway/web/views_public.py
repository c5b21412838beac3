"""Residents' pages: home and search, a consultation, commenting and answering, login and consent,
the annual plan (R-1.4, R-1.9, R-2.5, R-3.3, R-3.5, R-3.12, R-3.13)."""
from __future__ import annotations

import uuid
from datetime import date, timedelta

from flask import abort, current_app, redirect, request

from chassis.workdays import local_today
from contracts.consultations import NOTICE_LABELS, PLAN_STATUS_LABELS, CommentIn, Notice, PlanEntryIn, ResponseIn, Status
from contracts.moderation import ReportIn
from contracts.registry import ConsentIn, DevLoginIn
from gateway import auth, routes_consultations as consultations, routes_identity as identity
from gateway import routes_moderation as moderation, routes_open as open_routes
from gateway.clients import consultations as svc, registry
from gateway.web import forms, notify, page, principal, web
from gateway.web.views_reports import report_context

PER_PAGE = 20
CLOSING_SOON_DAYS = 7


# ---- home and search ----------------------------------------------------------------------------

@web.route("/")
def home():
    args = {k: v for k, v in request.args.items() if v != ""}
    searching = bool(args)
    found = None
    try:
        query = forms.parse(consultations.ListQuery, args)
        if searching:
            found = svc.list(query.status, query.category, query.form, query.page, PER_PAGE, query.q,
                             query.unit, query.year)
    except forms.Invalid as exc:
        forms.keep(exc, request.args.to_dict())
    active = svc.list(Status.active, None, None, 1, 100).items
    soon_limit = local_today() + timedelta(days=CLOSING_SOON_DAYS)
    closing = sorted((c for c in active if c.ends_on and c.ends_on <= soon_limit), key=lambda c: c.ends_on)
    return page("home.html", active=active, closing=closing, found=found, args=args)


# ---- one consultation ---------------------------------------------------------------------------

def _consultation_page(cid: uuid.UUID, status: int = 200):
    me = principal()
    try:
        page_no = max(1, min(int(request.args.get("page", 1)), 100_000))
    except ValueError:
        page_no = 1
    order = "oldest" if request.args.get("order") == "oldest" else "newest"
    view = consultations.page_view(cid, consultations.PageQuery(page=page_no, per_page=PER_PAGE, order=order))
    c, comments, results = view.consultation, view.comments, view.results
    by_paragraph: dict[str, list] = {}
    for item in view.paragraph_comments:
        by_paragraph.setdefault(str(item.paragraph_id), []).append(item)
    pages = max(1, -(-comments.total // PER_PAGE))
    can_take_part = bool(me and me.consent_given and me.eligibility.eligible and c.status.value == "active")
    notice_fields = [(name, NOTICE_LABELS[name], getattr(c.notice, name)) for name in Notice.model_fields]
    return page("consultation.html", status, c=c, comments=comments, pages=pages, order=order,
                by_paragraph=by_paragraph, results=results, can_take_part=can_take_part,
                notice_fields=notice_fields, **report_context(c),
                alt_text={str(a.id): a.text for a in c.alternatives},
                para_no={str(p.id): p.number for p in c.paragraphs})


@web.route("/consultations/<uuid:cid>")
def consultation(cid: uuid.UUID):
    return _consultation_page(cid)


def _optional_uuid(name: str) -> str | None:
    return forms.text(name)


@web.route("/consultations/<uuid:cid>/comments", methods=["POST"])
def comment(cid: uuid.UUID):
    try:
        body = forms.parse(CommentIn, {"body": request.form.get("body", ""),
                                       "alternative_id": _optional_uuid("alternative_id"),
                                       "paragraph_id": _optional_uuid("paragraph_id"),
                                       "on_behalf_of": _optional_uuid("on_behalf_of")})
        forms.attempt(lambda: consultations.add_comment(cid, body))
    except forms.Invalid as exc:
        forms.keep(exc)
        return _consultation_page(cid, 422)
    notify("Коментар надіслано. Він з'явиться після модерації; статус видно в особистому кабінеті.")
    return redirect(f"/consultations/{cid}#comments", 303)


@web.route("/consultations/<uuid:cid>/responses", methods=["POST"])
def respond(cid: uuid.UUID):
    c = svc.get(consultations.actor(), cid)
    answers, order = [], []
    for q in c.questions:
        key = f"q-{q.id}"
        if q.kind.value == "text":
            value = forms.text(key)
            if value:
                answers.append({"question_id": str(q.id), "text": value})
                order.append(key)
        else:
            chosen = [v for v in request.form.getlist(key) if v]
            if chosen:
                answers.append({"question_id": str(q.id), "option_ids": chosen})
                order.append(key)
    try:
        body = forms.parse(ResponseIn, {"answers": answers, "alternative_id": forms.text("alternative_id"),
                                        "on_behalf_of": forms.text("on_behalf_of")})
        forms.attempt(lambda: consultations.respond(cid, body))
    except forms.Invalid as exc:
        # answers.<i>.… → the question's own field
        exc.errors = {(order[int(k.split(".")[1])] if k.startswith("answers.") and k.split(".")[1].isdigit()
                       and int(k.split(".")[1]) < len(order) else k): v for k, v in exc.errors.items()}
        forms.keep(exc)
        return _consultation_page(cid, 422)
    notify("Дякуємо! Вашу відповідь враховано; до завершення консультації її можна змінити.")
    return redirect(f"/consultations/{cid}#results", 303)


@web.route("/consultations/<uuid:cid>/comments/<uuid:comment_id>/report", methods=["POST"])
def report(cid: uuid.UUID, comment_id: uuid.UUID):
    """A resident tells the moderators a published comment breaks the rules (R-3.7)."""
    try:
        body = forms.parse(ReportIn, {"reason": request.form.get(f"reason-{comment_id}", "")})
        forms.attempt(lambda: moderation.report_comment(comment_id, body))
    except forms.Invalid as exc:
        exc.errors = {f"reason-{comment_id}": m for m in exc.errors.values()}
        forms.keep(exc)
        return _consultation_page(cid, 422)
    notify("Скаргу передано модераторам. Дякуємо!")
    return redirect(f"/consultations/{cid}#c-{comment_id}", 303)


# ---- login, consent, logout ---------------------------------------------------------------------

@web.route("/login")
def login():
    from gateway.web import back

    return page("login.html", next_path=back())


@web.route("/login/dev", methods=["POST"])
def login_dev():
    from gateway.web import back

    if not current_app.config["SETTINGS"].auth_dev_login:
        abort(404)
    data = {"subject": request.form.get("subject", ""), "full_name": request.form.get("full_name", ""),
            "birth_date": forms.text("birth_date"),
            "community_member": request.form.get("community_member") == "on",
            "roles": request.form.getlist("roles") or ["resident"], "unit": forms.text("unit"),
            "consent": False}
    try:
        body = forms.parse(DevLoginIn, data)
        session = forms.attempt(lambda: registry.dev_login(body))
    except forms.Invalid as exc:
        forms.keep(exc)
        return page("login.html", 422, next_path=back())
    return identity.browser_login(session, back())


@web.route("/me/consent", methods=["GET", "POST"])
def consent():
    from gateway.web import back

    me = auth.require_login()
    text = registry.consent_text()
    if request.method == "POST":
        if request.form.get("agree") != "on":
            forms.keep(forms.Invalid({"agree": "позначте, що погоджуєтеся"}, "Згоду не надано"))
            return page("consent.html", 422, text=text, next_path=back())
        registry.give_consent(me.person_id, ConsentIn(version=text.version))
        auth.forget_person(me.person_id)
        notify("Згоду надано. Тепер ви можете брати участь у консультаціях.")
        return redirect(back(), 303)
    return page("consent.html", text=text, next_path=back())


@web.route("/logout", methods=["POST"])
def logout():
    me = principal()
    resp = redirect("/", 303)
    if me is not None:
        registry.logout(me.session_id)
        auth.forget_person(me.person_id)
    auth.clear_session_cookies(resp)
    return resp


# ---- the annual plan (R-3.3) --------------------------------------------------------------------

@web.route("/plan")
def plan_this_year():
    return redirect(f"/plan/{local_today().year}", 302)


@web.route("/plan/<int:year>", methods=["GET", "POST"])
def plan(year: int):
    status = 200
    if request.method == "POST":
        quarter = forms.text("planned_quarter")
        try:
            body = forms.parse(PlanEntryIn, {"title": request.form.get("title", ""),
                                             "category": forms.text("category"),
                                             "planned_quarter": quarter, "note": forms.text("note")})
            forms.attempt(lambda: open_routes.plan_add(year, body))
            notify("Пропозицію до плану додано.")
            return redirect(f"/plan/{year}", 303)
        except forms.Invalid as exc:
            forms.keep(exc)
            status = 422
    data = svc.plan(consultations.actor(), year)
    return page("plan.html", status, plan=data, year=year, PLAN_STATUS_UK=PLAN_STATUS_LABELS)


# ---- the accessibility statement (ДСТУ EN 301 549:2022, WCAG 2.2 AA) ------------------------------

# The day the statement was last checked against the site; change it with the statement's text.
STATEMENT_REVIEWED = date(2026, 11, 30)
# axe-core release the browser tests run (tests/support/browser.py AXE_VERSION says the same).
AXE_CORE = "4.14.1"


@web.route("/accessibility")
def accessibility():
    settings = current_app.config["SETTINGS"]
    return page("accessibility.html", reviewed=STATEMENT_REVIEWED, axe_core=AXE_CORE,
                email=settings.accessibility_email, phone=settings.accessibility_phone)
