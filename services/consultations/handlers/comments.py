"""Comments (R-3.5, R-3.7, R-3.9): screened by the moderation rules where they are written, a clean
one published with the author's name in the same transaction, a held one waiting for a moderator;
the cabinet's lists of one's comments and initiatives."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timezone

from chassis import rate
from chassis.errors import Conflict, InvalidInput, ServiceError, TooManyRequests
from contracts.common import Bucket
from contracts.consultations import (CommentIn, CommentOut, CommentPage, CommentPublished, CommentSubmitted,
                                    MyInitiative, OfflineCommentIn, Status)
from contracts.identity import Principal
from contracts.screening import fingerprint, screen
from services.consultations import rules
from services.consultations.handlers.reading import current_text, load


def _check_target(store, cid: uuid.UUID, data: CommentIn | OfflineCommentIn) -> None:
    """The whole consultation, one of its alternatives, or a paragraph of the current draft."""
    if data.alternative_id is not None and not store.has_alternative(cid, data.alternative_id):
        raise InvalidInput("Такої альтернативи в цій консультації немає", code="alternative_not_found",
                           errors=[{"field": "alternative_id", "message": "не належить консультації"}])
    if data.paragraph_id is not None:
        version, text = current_text(store, cid)
        if version is None or data.paragraph_id not in {p.id for p in text}:
            raise InvalidInput("Такого пункту в чинній редакції немає", code="paragraph_not_found",
                               errors=[{"field": "paragraph_id", "message": "не належить чинній редакції"}])


def _accepted(store, actor: Principal | None, cid: uuid.UUID, data: CommentIn):
    """The checks of a web comment, before anything is written: the institution it is written for
    and the author's earlier texts; raises the refusal."""
    rules.require_participant(actor)
    institution = rules.acting_for(actor, data.on_behalf_of)
    row = load(store, actor, cid)
    if row.status != Status.active.value:
        raise Conflict("Коментувати можна лише під час консультації", code="consultation_not_active")
    _check_target(store, cid, data)
    # one author, one text, one consultation: serialised per author and consultation, so two
    # identical posts sent at once cannot both pass
    store.serialise_author(cid, actor.person_id)
    # (consultation, fingerprint) of every comment of the author; equal fingerprints, the same text
    # (rules.same_text)
    earlier = [(c, fp or fingerprint(body)) for c, fp, body in store.fingerprints_of(actor.person_id)]
    own = fingerprint(data.body)
    if any(c == cid and fp == own for c, fp in earlier):
        raise Conflict("Ви вже надіслали такий самий коментар до цієї консультації", code="duplicate_comment",
                       errors=[{"field": "body", "message": "такий самий текст уже надіслано"}])
    return institution, own, {fp for _, fp in earlier}


def rate_hit(uow, buckets: list[Bucket], at: datetime) -> int:
    """The gateway's write limits for a write other than a comment: seconds to wait, or 0."""
    with uow.transaction() as store:
        return rate.count_hits(store, buckets, at)


def limited(wait: int) -> TooManyRequests:
    return TooManyRequests(f"Забагато запитів; спробуйте через {wait} с", retry_after=wait)


def add_comment(uow, actor: Principal | None, cid: uuid.UUID, data: CommentIn, buckets: list[Bucket] = (),
                at: datetime | None = None) -> CommentOut:
    """A comment in the author's own name, or for an institution they head (R-2.2). ``buckets``: the
    gateway's write limits, counted in this transaction, last (their rows stay locked only until
    the commit): over a limit, 429 and nothing is written; a refused comment counts too (the
    counts commit, nothing else was written), and over a limit its answer is the 429."""
    refused = None
    with uow.transaction() as store:
        try:
            institution, own, earlier = _accepted(store, actor, cid, data)
        except ServiceError as exc:
            refused = exc
        if refused is None:
            created = _write(store, actor, cid, data, institution, own, earlier)
        wait = rate.count_hits(store, buckets, at or datetime.now(timezone.utc)) if buckets else 0
        if wait and refused is None:
            raise limited(wait)  # the comment's rows roll back with the transaction
    if refused is not None:
        raise limited(wait) if wait else refused
    return rules.comment_out(created, actor)


def _write(store, actor: Principal, cid: uuid.UUID, data: CommentIn, institution: dict, own: str,
           earlier: set[str]) -> dict:
    """The comment (``own``: its text's fingerprint), its events; the row as written. ``earlier``:
    the fingerprints of the author's earlier comments."""
    screening = screen(data.body, earlier)
    comment_id = uuid.uuid4()
    created = store.add_comment(id=comment_id, consultation_id=cid, author_id=actor.person_id,
                                author_name=actor.full_name, alternative_id=data.alternative_id,
                                paragraph_id=data.paragraph_id, body=data.body, fingerprint=own,
                                published=not screening.held, **institution)
    facts = [CommentSubmitted(comment_id=comment_id, consultation_id=cid, author_id=actor.person_id,
                              author_name=actor.full_name, **institution, alternative_id=data.alternative_id,
                              paragraph_id=data.paragraph_id, body=data.body,
                              submitted_at=created["created_at"], screening=screening)]
    if not screening.held:  # screening passed it: public now, as moderation's approval would make it
        facts.append(CommentPublished(comment_id=comment_id, consultation_id=cid, author_id=actor.person_id))
    store.add_events(facts)
    return created


def add_offline_comment(uow, actor: Principal | None, cid: uuid.UUID, data: OfflineCommentIn,
                        today: date) -> CommentOut:
    """A submission received on paper, by e-mail, at a hearing or at an administrative service centre,
    registered by an official of the owning unit (others: 404 when they may not see the consultation,
    403 when they may): the same table, the same screening and moderation as a web comment, with the
    channel, the day received, the name as written, who registered it and when (``created_at``)."""
    with uow.transaction() as store:
        row = load(store, actor, cid)
        rules.require_owner(actor, row, "Пропозиції, отримані іншими каналами, реєструє посадова особа "
                                        "підрозділу-власника")
        problem = rules.offline_status_problem(row.status, row.report_published_at is not None)
        if problem is not None:
            raise Conflict(problem, code="consultation_not_active")
        rules.check_received_on(data.channel, data.received_on, row.starts_on, row.ends_on, today)
        _check_target(store, cid, data)
        if data.scan_id is not None:
            scan = store.attachment(cid, data.scan_id)
            if scan is None or scan.kind != "scan":
                raise InvalidInput("Скан не знайдено серед файлів консультації", code="scan_not_found",
                                   errors=[{"field": "scan_id", "message": "спершу завантажте файл з kind=scan"}])
        name = rules.name_as_published(data.author_name)
        # one writer, one text, one consultation: two officials typing in the same letter at once
        # cannot both register it
        store.serialise_author(cid, f"offline:{name.lower()}")
        earlier = store.offline_bodies(cid, name)  # the same writer's submissions to this consultation
        if any(rules.same_text(body, data.body) for body in earlier):
            raise Conflict("Цю пропозицію цього автора вже зареєстровано", code="duplicate_comment",
                           errors=[{"field": "body", "message": "такий самий текст від цього автора вже є"}])
        screening = screen(data.body, {fingerprint(body) for body in earlier})
        comment_id = uuid.uuid4()
        created = store.add_comment(id=comment_id, consultation_id=cid, author_id=None, author_name=name,
                                    author_name_as_written=data.author_name, channel=data.channel.value,
                                    received_on=data.received_on, entered_by=actor.person_id, scan_id=data.scan_id,
                                    alternative_id=data.alternative_id, paragraph_id=data.paragraph_id,
                                    body=data.body, fingerprint=fingerprint(data.body), published=not screening.held)
        store.add_event(CommentSubmitted(comment_id=comment_id, consultation_id=cid, author_id=None, author_name=name,
                                         alternative_id=data.alternative_id, paragraph_id=data.paragraph_id,
                                         body=data.body, submitted_at=created["created_at"], screening=screening,
                                         channel=data.channel, received_on=data.received_on,
                                         entered_by=actor.person_id))
        if not screening.held:
            store.add_event(CommentPublished(comment_id=comment_id, consultation_id=cid, author_id=None))
        return rules.comment_out(created, actor, insider=True)


def list_comments(uow, actor: Principal | None, cid: uuid.UUID, page: int, per_page: int, newest_first: bool,
                  alternative_id: uuid.UUID | None, paragraph_id: uuid.UUID | None = None) -> CommentPage:
    """Published comments, plus the actor's own pending or rejected ones (only they see those)."""
    with uow.transaction() as store:
        row = load(store, actor, cid)
        total, rows = store.comment_page(cid, actor.person_id if actor is not None else None, page, per_page,
                                         newest_first, alternative_id, paragraph_id)
    inside = rules.insider(actor, row)
    return CommentPage(items=[rules.comment_out(r, actor, inside) for r in rows], total=total, page=page,
                       per_page=per_page)


def my_comments(uow, actor: Principal) -> list[CommentOut]:
    """The author's comments with their status and, when rejected, the grounds (R-3.9)."""
    with uow.transaction() as store:
        return [rules.comment_out(r, actor) for r in store.comments_by(actor.person_id)]


def my_initiatives(uow, actor: Principal) -> list[MyInitiative]:
    """The initiator's initiatives, newest first, with status and the grounds or conclusion (R-3.10,
    R-3.11): whatever became of them, the initiator keeps seeing them here."""
    with uow.transaction() as store:
        return [MyInitiative.model_validate(r._asdict()) for r in store.initiatives_of(actor.person_id)]
