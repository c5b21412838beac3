"""Drafts and initiatives, draft act versions, publication (R-1.12, R-2.2, R-3.10, R-3.11, R-3.13)."""
from __future__ import annotations

import uuid
from datetime import date

from chassis.errors import Conflict, InvalidInput, NotFound
from contracts.consultations import (ConsultationIn, ConsultationOut, ConsultationPatch, ConsultationSubmitted,
                                     Form, NewVersionIn, ParagraphChange, Status, VersionDiff)
from contracts.identity import Principal
from services.consultations import drafts, rules
from services.consultations.handlers.reading import current_text, load, view
from services.consultations.handlers.timers import open_now
from services.consultations.rules import Rules


def create(uow, actor: Principal | None, data: ConsultationIn, today: date, rules_: Rules = Rules()) -> ConsultationOut:
    """An official's draft, or a resident's / institution head's initiative (R-2.2, R-3.10)."""
    rules.require_login(actor)
    rules.check_dates(data.starts_on, data.ends_on, today, rules_)
    unit = rules.official_unit(actor)
    if unit is not None:
        status = Status.draft
        values = dict(unit_id=unit.unit_id, unit_name=unit.unit_name, owner_id=actor.person_id)
    else:
        rules.require_participant(actor)
        rules.check_initiative_form(data.form)
        status = Status.submitted
        values = dict(initiator_id=actor.person_id, initiator_name=actor.full_name,
                      moderation_due=rules.moderation_due(rules.now()))
    cid = uuid.uuid4()
    with uow.transaction() as store:
        store.add_consultation(id=cid, form=data.form.value, title=data.title, question=data.question,
                               category=data.category, status=status.value, notice=data.notice.model_dump(),
                               starts_on=data.starts_on, ends_on=data.ends_on, **values)
        store.replace_alternatives(cid, [a.text for a in data.alternatives])
        store.replace_questions(cid, data.questions)
        if data.draft_text:
            write_version(store, cid, data.draft_text, None, new=True)
        store.add_history(cid, None, status, actor.person_id)
        if status == Status.submitted:
            store.add_event(ConsultationSubmitted(consultation_id=cid, title=data.title, question=data.question,
                                                  category=data.category, initiator_id=actor.person_id,
                                                  submitted_at=rules.now()))
        return view(store, actor, cid)


def write_version(store, cid: uuid.UUID, text: str, note: str | None, new: bool) -> int:
    """Store the text as a new version (or rewrite the current one while drafting), carrying
    paragraph ids over from the previous text."""
    current, previous = current_text(store, cid)
    items = drafts.carry_ids(previous, drafts.split_paragraphs(text))
    rewrite = current is not None and not new
    if rewrite:
        version_id, number = current.id, current.number
    else:
        version_id, number = uuid.uuid4(), (current.number + 1 if current else 1)
        store.add_version(version_id, cid, number, note)
    store.set_paragraphs(version_id, items, replace=rewrite)
    return number


def update_draft(uow, actor: Principal | None, cid: uuid.UUID, patch: ConsultationPatch, today: date,
                 rules_: Rules = Rules()) -> ConsultationOut:
    with uow.transaction() as store:
        row = load(store, actor, cid, lock=True)
        rules.require_owner(actor, row, "Редагувати може посадова особа підрозділу-власника")
        if row.status != Status.draft.value:
            raise Conflict("Редагувати можна лише чернетку", code="not_a_draft")
        values = patch.model_dump(exclude_unset=True)
        texts = values.pop("alternatives", None)
        survey = values.pop("questions", None)
        text = values.pop("draft_text", None)
        if "notice" in values:
            values["notice"] = {**(row.notice or {}), **patch.notice.model_dump(exclude_unset=True)}
        rules.check_dates(values.get("starts_on", row.starts_on), values.get("ends_on", row.ends_on), today, rules_)
        if values:
            store.update_consultation(cid, **values)
        if texts is not None:
            store.replace_alternatives(cid, [a["text"] for a in texts])
        if survey is not None:
            store.replace_questions(cid, patch.questions)
        if text is not None:
            write_version(store, cid, text, None, new=False)
        return view(store, actor, cid)


def new_version(uow, actor: Principal | None, cid: uuid.UUID, data: NewVersionIn) -> ConsultationOut:
    """A revised draft act, e.g. after the comments (kept beside the earlier versions)."""
    with uow.transaction() as store:
        row = load(store, actor, cid, lock=True)
        rules.require_owner(actor, row, "Нову редакцію додає посадова особа підрозділу-власника")
        if row.form != Form.draft_act.value:
            raise InvalidInput("Редакції мають лише проєкти актів", code="not_a_draft_act",
                               errors=[{"field": "form", "message": "draft_act"}])
        if row.status == Status.archived.value:
            raise Conflict("Архівна консультація незмінна", code="archived")
        write_version(store, cid, data.draft_text, data.note, new=row.status != Status.draft.value)
        return view(store, actor, cid)


def version_diff(uow, actor: Principal | None, cid: uuid.UUID, a: int, b: int) -> VersionDiff:
    with uow.transaction() as store:
        load(store, actor, cid)
        found = store.version_ids(cid, [a, b])
        missing = [n for n in (a, b) if n not in found]
        if missing:
            raise NotFound(f"Немає редакції {missing[0]}", code="version_not_found")
        counts = store.published_per_paragraph(cid)
        changes = drafts.diff(store.paragraphs(found[a]), store.paragraphs(found[b]))
    return VersionDiff(from_version=a, to_version=b, paragraphs=[
        ParagraphChange(**c, comments=counts.get(c["paragraph_id"], 0)) for c in changes])


def publish(uow, actor: Principal | None, cid: uuid.UUID, today: date, rules_: Rules) -> ConsultationOut:
    """Owner publishes: refused while R-3.13 lacks anything or the term is too short (R-1.12, R-3.11);
    a consultation starting today opens at once."""
    with uow.transaction() as store:
        row = load(store, actor, cid, lock=True)
        rules.require_owner(actor, row, "Оприлюднити може посадова особа підрозділу-власника")
        if row.status != Status.draft.value:
            raise Conflict("Оприлюднити можна лише чернетку", code="not_a_draft")
        _, text = current_text(store, cid)
        rules.check_publishable(row, store.count_alternatives(cid), store.count_questions(cid), len(text), today,
                                rules_)
        store.mark_published(cid)
        store.add_history(cid, row.status, Status.scheduled, actor.person_id)
        if row.starts_on == today:
            open_now(store, cid, rules_)
        return view(store, actor, cid)
