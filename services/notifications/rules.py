"""The notification rules as plain functions: who is e-mailed how (R-1.10), what the e-mails and the
cabinet messages say (R-1.10, R-3.4, R-3.11), when a failed e-mail is tried again (R-3.4), and how
accepted e-mails are marked `sent` in small groups. No database, no bus: the handlers apply them."""
from __future__ import annotations

import time as clock
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from contracts.registry import InterestedPerson
from contracts.reports import OUTCOME_LABELS

KIND = "consultation_started"
DIGEST = "daily_digest"
FEEDBACK = "report_feedback"  # "you said, we did"
CHANNEL = "email"
MAX_ATTEMPTS = 8
MAX_BACKOFF_SECONDS = 600
# causes of a failed row (the start of its ``last_error``), counted in the progress figures
UNBUILDABLE, RETRIES_SPENT = "unbuildable", "retries_spent"
SENT_GROUP_SECONDS = 0.5  # about the longest an accepted e-mail waits for its `sent` commit
STATUS_UK = {"forwarded": "передано до структурного підрозділу", "draft": "прийнято підрозділом",
             "declined": "відхилено підрозділом", "rejected": "відхилено модератором"}


# ---- who gets what (R-1.10) ------------------------------------------------------------------------

def split_by_mode(items: Iterable[InterestedPerson]) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """A page of the register as (daily-digest persons, persons e-mailed at once); a person who
    chose nothing (or anything but the digest) is e-mailed at once."""
    digest, at_once = [], []
    for p in items:
        (digest if p.email_mode == DIGEST else at_once).append(p.person_id)
    return digest, at_once


def digest_send_at(day: date, hour: int, tz: ZoneInfo) -> datetime:
    """When the digest of ``day`` goes out: ``hour`` o'clock local time that same day (R-3.4)."""
    return datetime.combine(day, time(hour), tz)


# ---- what the e-mails say (R-1.10, R-3.4) ------------------------------------------------------------

def start_subject(title: str) -> str:
    return f"Розпочато консультацію: {title}"


def digest_subject(day: date) -> str:
    return f"Щоденний дайджест консультацій за {day:%d.%m.%Y}"


def consultation_context(fanout, categories: dict[int, str]) -> dict:
    """What the templates show of one consultation."""
    return {"title": fanout.title, "category": categories.get(fanout.category, ""),
            "starts_on": fanout.starts_on.strftime("%d.%m.%Y"), "ends_on": fanout.ends_on.strftime("%d.%m.%Y"),
            "url": fanout.url, "question": fanout.question}


def digest_context(day: date, rows: list, categories: dict[int, str]) -> dict:
    """The digest's consultations grouped by category, in the order given (category, then title)."""
    groups: dict[str, list[dict]] = {}
    for f in rows:
        groups.setdefault(categories.get(f.category, ""), []).append(consultation_context(f, categories))
    return {"day": day.strftime("%d.%m.%Y"), "count": len(rows),
            "groups": [{"category": c, "items": items} for c, items in groups.items()]}


def message_about(kind: str, consultation_id: uuid.UUID | None, day: date | None, feedback_id: int | None = None) -> str:
    """What an e-mail is about, in its Message-ID: the consultation, the digest's day, or the
    "you said, we did" message."""
    if kind == FEEDBACK:
        return f"feedback-{feedback_id}"
    return f"digest-{day.isoformat()}" if kind == DIGEST else str(consultation_id)


def unsubscribe_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/api/v1/unsubscribe?token={token}"


# ---- the cabinet inbox (R-3.11) ----------------------------------------------------------------------

def started_message(title: str, starts_on: date, ends_on: date) -> tuple[str, str]:
    return (f"Розпочато консультацію «{title}»",
            f"Ваша ініціатива оприлюднена; консультація триває з {starts_on} до {ends_on}.")


def initiative_message(title: str, status: str) -> tuple[str, str]:
    return f"Ваша ініціатива «{title}»: {STATUS_UK.get(status, status)}", "Подробиці — на сторінці ініціативи."


def rejection_message(grounds: Iterable[str], titles: dict[str, str]) -> tuple[str, str]:
    """The author's message about a rejected comment, naming the grounds in the regulation's words."""
    named = "; ".join(titles.get(g, g) for g in grounds)
    return "Ваш коментар не оприлюднено", f"Підстава (п. 3.7 Положення): {named}."


# ---- "you said, we did": what became of each contributor's comments (R-3.16, R-3.18) ---------------

def told_key(outcome: str, justification: str | None) -> tuple[str, str]:
    """What a person is told about one comment, compared across versions (whitespace at the ends and
    an empty justification do not count as a change)."""
    return outcome, (justification or "").strip()


def feedback_changes(told: dict[uuid.UUID, tuple[str, str]], comments: list) -> list:
    """The comments (``contracts.reports.Contribution``) whose consideration or justification
    differs from what the person was last told (``told``: comment id → :func:`told_key`); on the
    first version every one."""
    return [c for c in comments if told.get(c.comment_id) != told_key(c.outcome.value, c.justification)]


def feedback_due(changed: list, decision_url: str | None, decision_url_told: str | None) -> bool:
    """A message goes out when a comment's consideration changed, or the decision was recorded since
    the person was last told (R-3.18); a version that changes neither for them sends nothing."""
    return bool(changed) or (decision_url is not None and decision_url != decision_url_told)


def feedback_item(c) -> dict:
    """One listed comment, as the message and the cabinet show it."""
    return {"comment_id": str(c.comment_id), "number": c.number, "target": c.target, "excerpt": c.excerpt,
            "outcome": c.outcome.value, "outcome_label": OUTCOME_LABELS[c.outcome],
            "justification": (c.justification or "").strip() or None}


def report_link(public_url: str, consultation_id: uuid.UUID) -> str:
    return f"{public_url.rstrip('/')}/consultations/{consultation_id}#report"


def decision_link(public_url: str, consultation_id: uuid.UUID) -> str:
    return f"{public_url.rstrip('/')}/consultations/{consultation_id}#decision"


def decision_caption(decision) -> str | None:
    """``contracts.reports.DecisionRef`` as one line («№ 415 від 01.12.2026: Про …»)."""
    if decision is None:
        return None
    return f"{decision.number} від {decision.adopted_on:%d.%m.%Y}: {decision.title}"


def feedback_subject(title: str, first: bool) -> str:
    return (f"Що сталося з вашими пропозиціями: «{title}»" if first
            else f"Оновлено звіт консультації «{title}»")


def feedback_lines(m) -> list[str]:
    """The message as plain text lines (the cabinet message's body; the e-mail's templates say the
    same). ``m``: a feedback message (title, report_version, first, items, report_url, decision_*)."""
    if m.first:
        lines = [f"Оприлюднено звіт про результати консультації «{m.title}» (версія {m.report_version}). "
                 f"Ось як розглянуто ваші пропозиції ({len(m.items)}):"]
    elif m.items:
        lines = [f"Оприлюднено нову версію звіту консультації «{m.title}» (версія {m.report_version}). "
                 f"Змінився розгляд ваших пропозицій ({len(m.items)}):"]
    else:
        lines = [f"Оприлюднено нову версію звіту консультації «{m.title}» (версія {m.report_version})."]
    for i in m.items:
        lines.append(f"№ {i['number']} ({i['target']}): «{i['excerpt']}» — {i['outcome_label']}"
                     + (f". Обґрунтування: {i['justification']}" if i["justification"] else ""))
    if m.decision_url:
        lines.append(f"Ухвалено рішення {m.decision_title}: {m.decision_url}")
    lines.append(f"Звіт: {m.report_url}")
    return lines


def feedback_context(m) -> dict:
    """What the e-mail's templates show."""
    return {"title": m.title, "report_version": m.report_version, "first": m.first, "items": list(m.items),
            "report_url": m.report_url, "decision_title": m.decision_title, "decision_url": m.decision_url}


# ---- failures and retries (R-3.4) --------------------------------------------------------------------

@dataclass(frozen=True)
class AfterFailure:
    status: str  # pending (tried again after ``delay``) | failed (for good)
    error: str
    delay: timedelta | None = None


def after_failure(error: str, temporary: bool, attempts: int) -> AfterFailure:
    """A temporary failure (SMTP 4xx, a dropped connection) is tried again after 2^attempts seconds
    (at most 10 minutes) until MAX_ATTEMPTS; a permanent one (5xx, unbuildable) never."""
    if temporary and attempts < MAX_ATTEMPTS:
        return AfterFailure("pending", error[:500], timedelta(seconds=min(2 ** attempts, MAX_BACKOFF_SECONDS)))
    return AfterFailure("failed", (f"{RETRIES_SPENT}: {error}" if temporary else error)[:500])


def unbuildable_reason(exc: BaseException) -> str:
    """Why a message could not be built, without its contents (no names, no addresses)."""
    return f"{UNBUILDABLE}: {type(exc).__name__}"


def failure_cause(status: str, last_error: str | None) -> str:
    """The cause a failed or skipped row is counted under in the progress figures."""
    if status == "skipped":
        return "skipped"
    cause = (last_error or "").split(":", 1)[0]
    return cause if cause in (UNBUILDABLE, RETRIES_SPENT) else "smtp"


# ---- exactly once, in small groups -------------------------------------------------------------------

class SentGroup:
    """Rows whose e-mail the server accepted, handed to ``commit`` together: when ``size`` are
    waiting, at the end of each claimed batch (``flush``), and once the oldest has waited
    SENT_GROUP_SECONDS (``flush_if_due``, called before each e-mail and by a watcher meanwhile).
    A sender that dies before a commit leaves at most ``size`` accepted rows in `sending`, which go
    out again with the same Message-ID."""

    def __init__(self, commit: Callable[[list[int]], None], size: int,
                 now: Callable[[], float] = clock.monotonic):
        self.commit, self.size, self.now = commit, max(1, size), now
        self.ids: list[int] = []
        self.since = 0.0

    def add(self, delivery_id: int) -> None:
        if not self.ids:
            self.since = self.now()
        self.ids.append(delivery_id)
        if len(self.ids) >= self.size:
            self.flush()

    def flush_if_due(self) -> None:
        if self.ids and self.now() - self.since >= SENT_GROUP_SECONDS:
            self.flush()

    def flush(self) -> None:
        if self.ids:
            ids, self.ids = self.ids, []
            self.commit(ids)
