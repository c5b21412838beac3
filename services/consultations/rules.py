"""Consultation rules as pure functions: no database, no broker.

``actor`` is the acting person as the gateway resolved them with the registry
(:class:`contracts.identity.Principal`) or None for an anonymous reader. An object the actor
may not see is NotFound, never Forbidden.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from chassis.errors import Forbidden, InvalidInput, NotFound
from chassis.text import canonical
from chassis.workdays import calendar_deadline, working_deadline
from contracts import identity
from contracts.consultations import (NOTICE_LABELS, PUBLIC_STATUSES, Channel, CommentOut, ConsultationPublished,
                                     Deadline, DecisionOut, Form, Notice, QuestionKind, QuestionOut, ResponseIn, Status)
from contracts.consultations import PlanEntryPatch, PlanStatus
from contracts.identity import Principal, Role
from contracts.moderation import moderation_due  # noqa: F401  (R-3.10: the one clock, shown in the deadlines)

DECISION_WORKING_DAYS = 5
REPORT_DAYS = 15
QUESTION_IN_EVENT = 500  # characters of the question an e-mail quotes


@dataclass(frozen=True)
class Rules:
    """What settings decide (docs/settings.md)."""

    min_term_days: int = 15
    min_term_days_initiative: int = 30   # read as days
    public_url: str = "http://localhost:8000"
    initiative_term: str = "calendar_month"  # «not less than one month»: calendar_month | days
    max_years_ahead: int = 2             # no date later than this many years from today
    max_term_days: int = 366             # the longest consultation, calendar days

    def page_url(self, cid: uuid.UUID) -> str:
        return f"{self.public_url.rstrip('/')}/consultations/{cid}"


def now() -> datetime:
    return datetime.now(timezone.utc)


# ---- dates and terms (R-1.12, R-3.11) -------------------------------------------------------------

def add_months(day: date, months: int) -> date:
    """The same date ``months`` later, clamped to that month's last day (31 January + 1 = 28/29 February)."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    last = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(day.day, last))


def date_errors(starts_on: date | None, ends_on: date | None, today: date, rules: Rules) -> list[dict]:
    """What is wrong with a consultation's dates: order, how far ahead, how long (field errors)."""
    latest = add_months(today, 12 * rules.max_years_ahead)
    errors = []
    for name, value in (("starts_on", starts_on), ("ends_on", ends_on)):
        if value is not None and value > latest:
            errors.append({"field": name, "message": f"не пізніше {latest:%d.%m.%Y}", "type": "date_too_far"})
    if starts_on and ends_on and ends_on < starts_on:
        errors.append({"field": "ends_on", "message": "раніше за starts_on", "type": "end_before_start"})
    elif starts_on and ends_on and (ends_on - starts_on).days + 1 > rules.max_term_days:
        errors.append({"field": "ends_on", "message": f"строк не довше {rules.max_term_days} календарних днів",
                       "type": "term_too_long"})
    return errors


def check_dates(starts_on: date | None, ends_on: date | None, today: date, rules: Rules) -> None:
    errors = date_errors(starts_on, ends_on, today, rules)
    if errors:
        code = errors[0]["type"]
        detail = ("Дата завершення раніша за дату початку" if code == "end_before_start"
                  else "Дати консультації поза допустимими межами")
        raise InvalidInput(detail, code=code, errors=errors)


def term_shortfall(starts_on: date, ends_on: date, initiative: bool, rules: Rules) -> str | None:
    """Why the term is too short (R-1.12: calendar days; R-3.11: «not less than one month», by
    default in calendar months: it lasts until the same date next month), or None."""
    if initiative and rules.initiative_term == "calendar_month":
        earliest_end = add_months(starts_on, 1)
        return None if ends_on >= earliest_end else f"не менше місяця: до {earliest_end:%d.%m.%Y} включно"
    minimum = rules.min_term_days_initiative if initiative else rules.min_term_days
    term = (ends_on - starts_on).days + 1
    return None if term >= minimum else f"щонайменше {minimum} календарних днів"


def report_due(ends_on: date) -> datetime:
    """R-3.17: the report is due 15 calendar days after the last day."""
    return calendar_deadline(ends_on, REPORT_DAYS)


def decision_due(adopted_on: date, holidays_off: bool | None = None) -> datetime:
    """R-3.18: the decision is published within five working days of its adoption (whether holidays
    count is ``HOLIDAYS_ARE_DAYS_OFF`` unless given)."""
    return working_deadline(datetime.combine(adopted_on, datetime.min.time(), tzinfo=timezone.utc),
                            DECISION_WORKING_DAYS, holidays_off)


# ---- who sees and does what ----------------------------------------------------------------------

def is_moderator(actor: Principal | None) -> bool:
    return actor is not None and actor.has(Role.moderator)


def owns(actor: Principal | None, row) -> bool:
    """An official of the owning structural unit."""
    return actor is not None and row.unit_id is not None and row.unit_id in actor.units()


def can_see(actor: Principal | None, row) -> bool:
    status = Status(row.status)
    if status in PUBLIC_STATUSES:
        return True
    if status == Status.draft:
        return owns(actor, row) or is_moderator(actor)
    initiator = actor is not None and actor.person_id == row.initiator_id
    if status in (Status.submitted, Status.rejected):  # the initiator and moderators only
        return is_moderator(actor) or initiator
    if status in (Status.forwarded, Status.declined):  # and the unit it was passed to
        return is_moderator(actor) or initiator or owns(actor, row)
    return False


def require_visible(actor: Principal | None, row):
    """The consultation, if it exists and the actor may see it; else NotFound (never Forbidden)."""
    if row is None or not can_see(actor, row):
        raise NotFound("Консультацію не знайдено", code="consultation_not_found")
    return row


def require_owner(actor: Principal | None, row, detail: str) -> None:
    if not owns(actor, row):
        raise Forbidden(detail, code="not_owner")


def sees_outcome(actor: Principal | None, row) -> bool:
    """The grounds of a rejection or the unit's conclusion: the initiator, the unit and moderators."""
    return actor is not None and (actor.person_id == row.initiator_id or owns(actor, row) or is_moderator(actor))


def require_login(actor: Principal | None) -> Principal:
    if actor is None:
        raise Forbidden("Потрібно увійти", code="login_required")
    return actor


def require_participant(actor: Principal | None) -> Principal:
    """R-1.3, R-3.10: comment, vote or initiate only when logged in, eligible and consented."""
    return identity.require_participant(require_login(actor))


NO_INSTITUTION = {"organisation_id": None, "organisation_name": None, "organisation_kind": None}


def acting_for(actor: Principal, organisation_id: uuid.UUID | None) -> dict:
    """The institution a comment or an answer is given for (R-2.2): only a confirmed head of it may
    (the registry grants the head's role on confirmation); ``NO_INSTITUTION`` for one's own name."""
    if organisation_id is None:
        return dict(NO_INSTITUTION)
    role = actor.headed(organisation_id)
    if role is None:
        raise Forbidden("Від імені установи може діяти лише її підтверджений керівник", code="not_institution_head",
                        errors=[{"field": "on_behalf_of", "message": "ви не є підтвердженим керівником цієї установи"}])
    return {"organisation_id": organisation_id, "organisation_name": role.organisation_name,
            "organisation_kind": role.organisation_kind}


def official_unit(actor: Principal):
    """The first unit the actor is an official of (their drafts belong to it), or None."""
    return next((r for r in actor.roles if r.role == Role.official and r.unit_id), None)


def check_initiative_form(form: Form) -> None:
    """R-2.2: residents and institutions initiate a proposal or a survey, not a draft act."""
    if form == Form.draft_act:
        raise InvalidInput("Ініціювати можна пропозицію або опитування", code="form_not_allowed",
                           errors=[{"field": "form", "message": "proposal або survey (п. 2.2)"}])


# ---- publication (R-1.12, R-3.11, R-3.13) ---------------------------------------------------------

def missing_for_publication(row, alt_count: int, question_count: int = 0, paragraph_count: int = 0) -> list[str]:
    """What R-3.13 still lacks (field names; NOTICE_LABELS has the Ukrainian wording)."""
    notice = Notice.model_validate(row.notice or {})
    missing = [name for name, value in notice.model_dump().items() if not (value or "").strip()]
    if not (row.question or "").strip():
        missing.insert(0, "question")
    if row.form == Form.proposal.value and alt_count == 0:
        missing.append("alternatives")
    if row.form == Form.survey.value and question_count == 0:
        missing.append("questions")
    if row.form == Form.draft_act.value and paragraph_count == 0:
        missing.append("draft_text")
    for name in ("starts_on", "ends_on"):
        if getattr(row, name) is None:
            missing.append(name)
    return missing


def check_publishable(row, alt_count: int, question_count: int, paragraph_count: int, today: date,
                      rules: Rules) -> None:
    """Refused while R-3.13 lacks anything, the start has passed or the term is too short."""
    missing = missing_for_publication(row, alt_count, question_count, paragraph_count)
    if missing:
        raise InvalidInput("Не заповнено: " + "; ".join(NOTICE_LABELS[m] for m in missing),
                           code="notice_incomplete",
                           errors=[{"field": m, "message": f"обов'язково (п. 3.13): {NOTICE_LABELS[m]}"}
                                   for m in missing])
    if row.starts_on < today:
        raise InvalidInput("Дата початку вже минула", code="start_in_past",
                           errors=[{"field": "starts_on", "message": "не раніше сьогодні"}])
    check_dates(row.starts_on, row.ends_on, today, rules)
    short = term_shortfall(row.starts_on, row.ends_on, row.initiator_id is not None, rules)
    if short:
        term = (row.ends_on - row.starts_on).days + 1
        raise InvalidInput(f"Строк консультації {term} дн. закороткий: {short}", code="term_too_short",
                           errors=[{"field": "ends_on", "message": short}])


def published_event(row, rules: Rules) -> ConsultationPublished:
    """What interested persons are e-mailed about when a consultation opens (R-1.10, R-3.4)."""
    question = row.question if len(row.question) <= QUESTION_IN_EVENT \
        else row.question[:QUESTION_IN_EVENT - 3].rstrip() + "…"
    return ConsultationPublished(
        consultation_id=row.id, title=row.title, category=row.category, form=Form(row.form), question=question,
        starts_on=row.starts_on, ends_on=row.ends_on, initiator_id=row.initiator_id, url=rules.page_url(row.id))


# ---- decisions (R-3.18) ---------------------------------------------------------------------------

def check_decision_dates(adopted_on: date, closed_at: datetime | None, today: date) -> None:
    if adopted_on > today:
        raise InvalidInput("Дата ухвалення ще не настала", code="adopted_in_future",
                           errors=[{"field": "adopted_on", "message": "не пізніше сьогодні"}])
    if closed_at and adopted_on < closed_at.date() - timedelta(days=1):
        raise InvalidInput("Рішення ухвалено раніше, ніж завершилася консультація", code="adopted_before_close",
                           errors=[{"field": "adopted_on", "message": "після завершення консультації"}])


def decision_out(row) -> DecisionOut:
    """A recorded decision; ``on_time`` when recorded within its R-3.18 publication deadline."""
    return DecisionOut(number=row.number, adopted_on=row.adopted_on, title=row.title, text=row.text,
                       publication_due=row.publication_due, recorded_at=row.recorded_at,
                       on_time=row.recorded_at <= row.publication_due)


# ---- comments (R-3.5, R-3.9) ----------------------------------------------------------------------

def same_text(a: str, b: str) -> bool:
    """Two comments say the same when they differ only in case, spacing, punctuation, invisible
    characters or Latin look-alikes (the screening's normalisation, chassis.text.canonical)."""
    return canonical(a) == canonical(b)


def comment_out(row: dict, actor: Principal | None, insider: bool = False) -> CommentOut:
    """A comment as ``actor`` sees it: the grounds of a rejection go to its author (or, received
    offline, to the official who registered it) only (R-3.9); the scan of an offline submission
    (a signature, an address) to ``insider`` only: the owning unit and moderators."""
    out = CommentOut.model_validate(row)
    if actor is None or actor.person_id not in (row["author_id"], row.get("entered_by")):
        out.rejection_grounds = None
    if not insider:
        out.scan_id = None
    return out


def insider(actor: Principal | None, row) -> bool:
    """Sees what is not public about a consultation's comments: officials of the owning unit, moderators."""
    return owns(actor, row) or is_moderator(actor)


# ---- offline and assisted participation -----------------------------------------------------------

def offline_status_problem(status: str, report_published: bool) -> str | None:
    """Why a submission received offline cannot be registered now, or None: while the consultation
    runs, and after it closed until its report is published (a letter posted in time may arrive,
    or be typed in, after the last day; the report's snapshot is then taken again); never once the
    report is out or the consultation archived."""
    if status == Status.active.value or (status == Status.closed.value and not report_published):
        return None
    if status == Status.closed.value:
        return "Звіт уже оприлюднено: нові пропозиції не реєструються"
    return "Пропозиції реєструють лише під час консультації (або після завершення до оприлюднення звіту)"


def received_on_errors(channel: Channel, received_on: date, starts_on: date | None, ends_on: date | None,
                       today: date) -> list[dict]:
    """The channel and the day a submission was received, as field errors. Not ``web`` (those come
    through the service itself); not in the future (today in the city: nobody receives tomorrow's
    letter, and a later date would move it to the end of the protocol's order); not before the
    consultation started (before the notice was public there was nothing to comment on: an earlier
    letter is an appeal under other rules, not a proposal to this consultation); not after its last
    day (the term applies to every channel alike: a web comment cannot come late either)."""
    errors = []
    if channel == Channel.web:
        errors.append({"field": "channel", "message": "коментарі з вебсайту надходять лише через сам сервіс",
                       "type": "channel_web"})
    if received_on > today:
        errors.append({"field": "received_on", "message": f"не пізніше сьогодні ({today:%d.%m.%Y})",
                       "type": "received_in_future"})
    if starts_on is not None and received_on < starts_on:
        errors.append({"field": "received_on", "message": f"не раніше дня початку консультації ({starts_on:%d.%m.%Y})",
                       "type": "received_before_start"})
    if ends_on is not None and received_on > ends_on:
        errors.append({"field": "received_on", "type": "received_after_end",
                       "message": f"не пізніше останнього дня консультації ({ends_on:%d.%m.%Y})"})
    return errors


def check_received_on(channel: Channel, received_on: date, starts_on: date | None, ends_on: date | None,
                      today: date) -> None:
    errors = received_on_errors(channel, received_on, starts_on, ends_on, today)
    if errors:
        raise InvalidInput("Канал або дата надходження неприйнятні", code=errors[0]["type"], errors=errors)


def name_as_published(name_as_written: str) -> str:
    """The author's name as the page shows it: as written, with runs of spaces made one."""
    return " ".join(name_as_written.split())


# ---- survey answers and support (R-1.9, R-3.12) ---------------------------------------------------

def response_errors(data: ResponseIn, survey: dict[uuid.UUID, QuestionOut], alternative_known: bool) -> list[dict]:
    """Every field error of a survey response: answers to this consultation's questions, the right
    number of this question's options, text only for text questions, each question once."""
    errors = []
    for i, answer in enumerate(data.answers):
        q = survey.get(answer.question_id)
        field = f"answers.{i}"
        if q is None:
            errors.append({"field": f"{field}.question_id", "message": "питання не з цієї консультації"})
            continue
        allowed = {o.id for o in q.options}
        if any(o not in allowed for o in answer.option_ids):
            errors.append({"field": f"{field}.option_ids", "message": "варіант не з цього питання"})
        elif q.kind == QuestionKind.single and len(answer.option_ids) != 1:
            errors.append({"field": f"{field}.option_ids", "message": "оберіть рівно один варіант"})
        elif q.kind == QuestionKind.multiple and not answer.option_ids:
            errors.append({"field": f"{field}.option_ids", "message": "оберіть хоча б один варіант"})
        elif q.kind == QuestionKind.text and not (answer.text or "").strip():
            errors.append({"field": f"{field}.text", "message": "напишіть відповідь"})
        elif q.kind != QuestionKind.text and answer.text:
            errors.append({"field": f"{field}.text", "message": "це питання з варіантами"})
    if len({a.question_id for a in data.answers}) != len(data.answers):
        errors.append({"field": "answers", "message": "кожне питання — один раз"})
    if data.alternative_id is not None and not alternative_known:
        errors.append({"field": "alternative_id", "message": "не належить консультації"})
    return errors


# ---- deadlines (R-3.10, R-3.17, R-3.18) -----------------------------------------------------------

def deadline_scope(actor: Principal | None) -> bool:
    """Whether the actor sees every deadline (moderators, administrators) or only their units'
    (officials); anyone else is refused."""
    if actor is None or not (actor.has(Role.official) or is_moderator(actor) or actor.has(Role.admin)):
        raise Forbidden("Строки бачать посадові особи та модератори", code="role_required")
    return is_moderator(actor) or actor.has(Role.admin)


def deadline(row, kind: str, due: datetime, done: datetime | None, at: datetime) -> Deadline:
    """A deadline, overdue when not done in time or done late."""
    return Deadline(consultation_id=row.id, title=row.title, unit_name=row.unit_name, kind=kind, due=due,
                    done_at=done, overdue=(done or at) > due)


def check_archivable(actor: Principal | None, row) -> None:
    """R-1.11: the owning unit or an administrator archives a closed consultation."""
    if not (owns(actor, row) or (actor is not None and actor.has(Role.admin))):
        raise Forbidden("Архівує підрозділ-власник або адміністратор", code="not_owner")


# ---- the annual plan (R-3.3) ---------------------------------------------------------------------

def plan_unit(actor: Principal | None) -> str | None:
    """The name of the first unit the actor is an official of: the unit their plan entries belong to."""
    if actor is None:
        return None
    return next((r.unit_name for r in actor.roles if r.role == Role.official and r.unit_name), None)


def new_plan_entry(actor: Principal | None) -> tuple[str | None, PlanStatus]:
    """An official's entry is planned at once for their unit; anyone else's is a proposal."""
    if actor is None or not actor.consent_given:
        raise Forbidden("Потрібно увійти та надати згоду", code="consent_required")
    unit = plan_unit(actor)
    return unit, (PlanStatus.planned if unit else PlanStatus.proposed)


def require_plan_official(actor: Principal | None) -> str:
    unit = plan_unit(actor)
    if unit is None:
        raise Forbidden("План змінюють посадові особи", code="role_required")
    return unit


def plan_change(row, patch: PlanEntryPatch, unit: str) -> dict:
    """The columns a patch changes: the official takes a proposal into their unit's plan; linking
    a consultation marks the entry held unless the patch says otherwise."""
    values = patch.model_dump(exclude_unset=True)
    if "status" in values:
        values["status"] = patch.status.value
        if row.status == PlanStatus.proposed.value and patch.status == PlanStatus.planned:
            values["unit_name"] = unit
    if patch.consultation_id is not None:
        values.setdefault("status", PlanStatus.held.value)
    return values


def plan_scope(actor: Principal | None) -> tuple[bool, uuid.UUID | None]:
    """Beyond the public plan: (every proposal and declined entry, for officials and moderators;
    the proposer whose own entries they see, for anyone else logged in)."""
    if actor is not None and (plan_unit(actor) or actor.has(Role.moderator)):
        return True, None
    return False, actor.person_id if actor is not None else None

