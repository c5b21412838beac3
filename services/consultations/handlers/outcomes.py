"""What other services decided (each event applied once, in the transaction that claimed it):
moderation's outcomes on comments and initiatives (R-3.7, R-3.10), the first published report
(R-3.17); and the competent unit's conclusion on a forwarded initiative (R-3.10)."""
from __future__ import annotations

import uuid
from datetime import datetime

from chassis.errors import Conflict
from contracts.consultations import (CommentPublished, CommentWasRejected, ConsultationOut, InitiativeDecision,
                                     InitiativeStatusChanged, Status)
from contracts.identity import Principal
from services.consultations import rules
from services.consultations.handlers.reading import load, view


def comment_approved(store, comment_id: uuid.UUID) -> bool:
    row = store.publish_comment(comment_id)
    if row is None:
        return False  # unknown, or already decided: a late approval never republishes a rejection
    store.add_event(CommentPublished(comment_id=comment_id, consultation_id=row.consultation_id,
                                     author_id=row.author_id))
    return True


def comment_rejected(store, comment_id: uuid.UUID, grounds: list[str], note: str | None) -> bool:
    """Rejected before or after publication: from now on only its author sees it, with the grounds."""
    row = store.reject_comment(comment_id, grounds, note)
    if row is None:
        return False
    store.add_event(CommentWasRejected(comment_id=comment_id, consultation_id=row.consultation_id,
                                       author_id=row.author_id, grounds=grounds))
    return True


def move_initiative(store, cid: uuid.UUID, expect: Status, new: Status, actor_id: uuid.UUID | None,
                    **values) -> bool:
    row = store.move(cid, expect, new, **values)
    if row is None:
        return False
    store.add_history(cid, expect.value, new, actor_id)
    store.add_event(InitiativeStatusChanged(consultation_id=cid, initiator_id=row.initiator_id, status=new.value,
                                            title=row.title))
    return True


def initiative_approved(store, cid: uuid.UUID, unit_id: uuid.UUID, unit_name: str, moderator_id: uuid.UUID) -> bool:
    """R-3.10: passed to the competent structural unit, which gives its conclusion."""
    return move_initiative(store, cid, Status.submitted, Status.forwarded, moderator_id, unit_id=unit_id,
                           unit_name=unit_name)


def initiative_rejected(store, cid: uuid.UUID, grounds: list[str], note: str | None, moderator_id: uuid.UUID) -> bool:
    return move_initiative(store, cid, Status.submitted, Status.rejected, moderator_id,
                           outcome={"grounds": grounds, "note": note})


def report_published(store, cid: uuid.UUID, at: datetime) -> bool:
    """The first published report meets the R-3.17 deadline; later versions do not move it."""
    return store.mark_report_published(cid, at)


def decide_initiative(uow, actor: Principal | None, cid: uuid.UUID, decision: InitiativeDecision) -> ConsultationOut:
    """The unit accepts (the initiative becomes its draft, the author still shown) or declines with a
    conclusion (R-3.10)."""
    with uow.transaction() as store:
        row = load(store, actor, cid, lock=True)
        rules.require_owner(actor, row, "Висновок дає посадова особа підрозділу, якому передано ініціативу")
        if row.status != Status.forwarded.value:
            raise Conflict("Ініціатива не очікує висновку", code="not_forwarded")
        new = Status.draft if decision.accept else Status.declined
        move_initiative(store, cid, Status.forwarded, new, actor.person_id, owner_id=actor.person_id,
                        outcome={"accepted": decision.accept, "conclusion": decision.conclusion})
        return view(store, actor, cid)
