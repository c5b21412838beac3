"""Reading consultations: one consultation as its reader may see it, public lists, attachments."""
from __future__ import annotations

import uuid

from chassis.errors import NotFound
from contracts.consultations import (PUBLIC_STATUSES, AlternativeOut, AttachmentOut, ConsultationOut,
                                     ConsultationPage, ConsultationSummary, Form, MODERATION_MARK, Notice,
                                     OptionOut, ParagraphOut, QuestionOut, Status, TimelineEntry)
from contracts.identity import Principal
from services.consultations import rules


def load(store, actor: Principal | None, cid: uuid.UUID, lock: bool = False):
    """The consultation's row, if the actor may see it (NotFound otherwise)."""
    return rules.require_visible(actor, store.consultation(cid, lock))


def questions(store, cid: uuid.UUID) -> list[QuestionOut]:
    qs, opts = store.questions(cid)
    return [QuestionOut(id=q.id, position=q.position, text=q.text, kind=q.kind,
                        options=[OptionOut(id=o.id, text=o.text) for o in opts if o.question_id == q.id])
            for q in qs]


def current_text(store, cid: uuid.UUID):
    """The current draft version (None if there is none) and its paragraphs."""
    version = store.current_version(cid)
    return version, (store.paragraphs(version.id) if version else [])


def attachment_out(row) -> AttachmentOut:
    return AttachmentOut(id=row.id, kind=row.kind, title=row.title, filename=row.filename,
                         content_type=row.content_type, size=row.size, sha256=row.sha256,
                         url=f"/api/v1/consultations/{row.consultation_id}/attachments/{row.id}")


def view(store, actor: Principal | None, cid: uuid.UUID) -> ConsultationOut:
    row = load(store, actor, cid)
    alts = store.alternatives(cid)
    survey = questions(store, cid)
    decision = store.decision(cid)
    timeline = [] if Status(row.status) not in PUBLIC_STATUSES else [
        TimelineEntry(status=h.to_status, at=h.at) for h in store.public_history(cid)]
    if decision is not None:
        timeline.append(TimelineEntry(status="decision", at=decision.recorded_at))
    version, text = current_text(store, cid)
    return ConsultationOut(
        id=row.id, form=row.form, title=row.title, question=row.question, category=row.category,
        status=row.status, unit_id=row.unit_id, unit_name=row.unit_name, initiator_name=row.initiator_name,
        alternatives=[AlternativeOut.model_validate(a._asdict()) for a in alts], questions=survey,
        draft_version=version.number if version else None,
        paragraphs=[ParagraphOut(id=p.id, number=i + 1, text=p.text) for i, p in enumerate(text)],
        notice=Notice.model_validate(row.notice or {}), starts_on=row.starts_on, ends_on=row.ends_on,
        published_at=row.published_at,
        moderation_mark=MODERATION_MARK if row.status == Status.submitted.value else None,
        outcome=row.outcome if rules.sees_outcome(actor, row) else None,
        missing_for_publication=(rules.missing_for_publication(row, len(alts), len(survey), len(text))
                                 if rules.owns(actor, row) else None),
        comments_published=store.count_published(cid), timeline=timeline,
        attachments=[attachment_out(a) for a in store.attachments(cid) if a.kind != "scan"],
        decision=rules.decision_out(decision) if decision is not None else None)


def read(uow, actor: Principal | None, cid: uuid.UUID) -> ConsultationOut:
    with uow.transaction() as store:
        return view(store, actor, cid)


def listing(uow, status: Status | None, category: int | None, form: Form | None, page: int, per_page: int,
            q: str | None = None, unit: str | None = None, year: int | None = None) -> ConsultationPage:
    """Public consultations, filtered and searched, a page at a time (may lag: a read replica)."""
    with uow.reading() as store:
        total, rows = store.public_page(status.value if status else None, category, form.value if form else None,
                                        page, per_page, q, unit, year)
    return ConsultationPage(items=[ConsultationSummary.model_validate(r._asdict()) for r in rows],
                            total=total, page=page, per_page=per_page)


def catalogue(uow) -> list[ConsultationSummary]:
    """Every public consultation, for feeds and open data (R-1.4, R-1.7; may lag: a read replica)."""
    with uow.reading() as store:
        return [ConsultationSummary.model_validate(r._asdict()) for r in store.public_catalogue()]


def get_attachment(uow, actor: Principal | None, cid: uuid.UUID, attachment_id: uuid.UUID) -> AttachmentOut:
    with uow.transaction() as store:
        consultation = load(store, actor, cid)
        row = store.attachment(cid, attachment_id)
        # a scan of a submission received offline (a signature, an address) is not public
        if row is None or (row.kind == "scan" and not rules.insider(actor, consultation)):
            raise NotFound("Файл не знайдено", code="attachment_not_found")
        return attachment_out(row)
