"""The personal cabinet (R-2.4, R-3.5, R-3.9, R-3.11) and the initiative form (R-2.2, R-3.10)."""
from __future__ import annotations

import uuid

from flask import Response, json, redirect, request

from chassis.errors import NotFound

from contracts.moderation import GROUNDS, NotMineIn
from contracts.registry import MeUpdate
from gateway import auth, routes_consultations as consultations, routes_identity as identity
from gateway import routes_moderation as moderation
from gateway.clients import consultations as svc, notifications, registry
from gateway.web import forms, notify, page, web
from gateway.web.views_official import new_consultation


def _cabinet(status: int = 200):
    me = auth.require_login()
    person = registry.get_me(me.person_id)
    inbox = notifications.inbox(me.person_id)
    mine = svc.my_comments(consultations.actor())
    initiatives = svc.my_initiatives(consultations.actor())
    feedback = notifications.feedback(me.person_id).items
    return page("cabinet.html", status, person=person, inbox=inbox, mine=mine, initiatives=initiatives,
                feedback=feedback, GROUNDS=GROUNDS)


@web.route("/me")
def cabinet():
    return _cabinet()


@web.route("/me", methods=["POST"])
def cabinet_update():
    me = auth.require_consent()
    data = {"email": forms.text("email"), "phone": forms.text("phone"),
            "interests": [v for v in request.form.getlist("interests") if v],
            "email_enabled": request.form.get("email_enabled") == "on",
            "email_mode": request.form.get("email_mode") or None}
    try:
        body = forms.parse(MeUpdate, data)
        forms.attempt(lambda: registry.update_me(me.person_id, body))
    except forms.Invalid as exc:
        forms.keep(exc)
        return _cabinet(422)
    notify("Зміни збережено.")
    return redirect("/me", 303)


@web.route("/me/comments/<uuid:comment_id>/not-mine", methods=["POST"])
def cabinet_not_mine(comment_id: uuid.UUID):
    """The person a published comment is signed with tells the moderators it is not theirs."""
    try:
        body = forms.parse(NotMineIn, {"explanation": forms.text(f"explanation-{comment_id}")})
        forms.attempt(lambda: moderation.disown_comment(comment_id, body))
    except forms.Invalid as exc:
        exc.errors = {f"explanation-{comment_id}": m for m in exc.errors.values()}
        forms.keep(exc)
        return _cabinet(422)
    notify("Модератори перевірять коментар першочергово. Дякуємо, що повідомили!")
    return redirect("/me#my-comments", 303)


@web.route("/me/feedback/<uuid:consultation_id>")
def cabinet_feedback(consultation_id: uuid.UUID):
    """What became of my comments on one consultation (R-3.16, R-3.18); 404 where I have none."""
    me = auth.require_login()
    found = notifications.feedback_for(me.person_id, consultation_id)
    if found is None:
        raise NotFound("Ваших пропозицій у звіті цієї консультації немає", code="no_feedback")
    return page("feedback.html", feedback=found)


@web.route("/me/notifications/read", methods=["POST"])
def cabinet_read():
    me = auth.require_login()
    notifications.mark_read(me.person_id, None)
    return redirect("/me#inbox", 303)


@web.route("/me/export")
def cabinet_export():
    me = auth.require_login()
    data = identity.export_everything(str(me.person_id))
    return Response(json.dumps(data, ensure_ascii=False, indent=2), mimetype="application/json",
                    headers={"Content-Disposition": "attachment; filename=my-data.json"})


@web.route("/me/erase", methods=["GET", "POST"])
def cabinet_erase():
    me = auth.require_login()
    if request.method == "POST":
        if request.form.get("confirm") != "ВИДАЛИТИ":
            forms.keep(forms.Invalid({"confirm": "введіть слово ВИДАЛИТИ великими літерами"},
                                     "Видалення не підтверджено"))
            return page("erase.html", 422)
        registry.erase_me(me.person_id)
        auth.forget_person(me.person_id)
        resp = redirect("/", 303)
        auth.clear_session_cookies(resp)
        notify("Згоду відкликано, контакти та інтереси видалено, сесію завершено.")
        return resp
    return page("erase.html")


@web.route("/initiative", methods=["GET", "POST"])
def initiative():
    """A resident or an institution head proposes a consultation; it goes to moderation (R-3.10)."""
    auth.require_consent()
    return new_consultation(initiative=True)
