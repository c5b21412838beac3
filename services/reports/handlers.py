"""The R-3.16 report, the R-3.14 protocol, the R-1.11 archive bundle and statistics: the use cases,
each over the service's ``Store`` (SQL in store.py, pure rules in rules.py).

Other services are reached through :class:`Sources` (callables: nameko RPC proxies in service.py,
anything in tests and benchmarks), and never while a transaction of ours is open: what a use case
needs from them is gathered first (:func:`gather`, :func:`fetch_page`), then written in one short
transaction. A published report is public; before that only officials of the owning unit, moderators
and administrators see it (others 404); only officials of the owning unit change it (others 403).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import uuid
import zipfile
from collections import OrderedDict
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import wraps
from datetime import date, datetime, timezone
from typing import Callable, Iterator

from chassis import metrics
from chassis.errors import Conflict, Forbidden, InvalidInput, NotFound
from contracts.consultations import (CHANNEL_LABELS, ReportCommentPage, ReportRespondentPage, RespondentBreakdown,
                                     signed_as)
from contracts.identity import Principal, Role
from contracts.registry import ParticipantProfile
from contracts.reports import AGE_BAND_LABELS, DIMENSIONS, RESPONDENT_TYPE_LABELS, VISIT_LABELS, Participation
from contracts.reports import (OUTCOME_LABELS, AuthorContributions, Consideration, Contribution, ContributionPage,
                               DecisionRef, GroupDetail, GroupMember, GroupOut, GroupPage, Outcome, OutcomeCount,
                               ProposalOut, ProposalPage, ReportOut, ReportPublished, ReportStats, VersionList,
                               VersionOut)
from services.reports import grouping, render, rules
from services.reports.rules import insider, owns
from services.reports.store import Store

log = logging.getLogger(__name__)
BACKFILL_PAGE = 5000  # comments or respondents a page when the read model must be completed
Transaction = Callable[[], AbstractContextManager[Store]]


def one_transaction(use_case):
    """``use_case(store, …)`` called as ``use_case(uow, …)``: the whole use case in one transaction
    of the unit of work."""
    @wraps(use_case)
    def run(uow, *args, **kwargs):
        with uow.transaction() as store:
            return use_case(store, *args, **kwargs)
    return run


@dataclass
class Sources:
    """What the reports service asks other services (by RPC in production)."""

    source: Callable[[str], dict]                                  # consultations.report_source
    comments: Callable[[str, list | None, int, bool], dict]         # consultations.report_comments
    respondents: Callable[[str, str | None, int], dict]             # consultations.report_respondents
    returning: Callable[[uuid.UUID, list[uuid.UUID]], list[uuid.UUID]]  # consultations.report_returning, any number
    profiles: Callable[[list[uuid.UUID], date], list[ParticipantProfile]]  # registry.participant_profiles, any number
    year_counts: Callable[[int], list[dict]] = lambda year: []     # consultations.year_counts
    breakdown: Callable[[str], dict] | None = None                  # consultations.respondent_breakdown


def now() -> datetime:
    return datetime.now(timezone.utc)


# ---- who sees and does what ----------------------------------------------------------------------

def _visible(store: Store, actor: Principal | None, cid: uuid.UUID, lock: bool = False):
    return _seen(actor, store.snapshot(cid, lock), lambda: bool(store.versions(cid)))


def _seen(actor: Principal | None, snap, published: Callable[[], bool]):
    """The snapshot if the actor may see its report: an insider before publication, anyone after."""
    if snap is None or not (insider(actor, snap) or published()):
        raise NotFound("Звіту не знайдено", code="report_not_found")
    return snap


def _editable(store: Store, actor: Principal | None, cid: uuid.UUID, admin: bool = False):
    """The report as its preparer may change it: officials of the owning unit (``admin``: or an
    administrator); 404 for whoever may not see it, 409 once archived."""
    snap = _visible(store, actor, cid, lock=True)
    if not (owns(actor, snap) or (admin and actor is not None and actor.has(Role.admin))):
        raise Forbidden("Звіт готує посадова особа підрозділу-власника", code="not_owner")
    if snap.archived_at is not None:
        raise Conflict("Архівний звіт незмінний", code="archived")
    return snap


# ---- the read model (consultations' events) -------------------------------------------------------

def comment_submitted(store: Store, d, at: datetime) -> None:
    store.merge_comments([{
        "consultation_id": d.consultation_id, "comment_id": d.comment_id, "author_id": d.author_id,
        "author_name": signed_as(d.author_name, d.organisation_name), "body": d.body, "created_at": d.submitted_at,
        "alternative_id": d.alternative_id, "paragraph_id": d.paragraph_id, "status": "pending",
        "channel": d.channel.value}])


def comment_published(store: Store, d, at: datetime) -> None:
    store.merge_comments([{"consultation_id": d.consultation_id, "comment_id": d.comment_id,
                                    "author_id": d.author_id, "status": "published", "decided_at": at}])
    store.queue_grouping(d.consultation_id, [d.comment_id])


def comment_rejected(store: Store, d, at: datetime) -> None:
    store.merge_comments([{"consultation_id": d.consultation_id, "comment_id": d.comment_id,
                                    "author_id": d.author_id, "status": "rejected", "decided_at": at,
                                    "grounds": list(d.grounds) or None}])


def survey_answered(store: Store, d) -> None:
    store.add_respondents(d.consultation_id, [d.person_id])


# ---- grouping near-identical comments, off the request path -----------------------------

GROUP_BATCH = 100  # comments grouped a transaction (CPU-bound: the service's green threads wait that long)


def group_pending(uow, engine: grouping.Engine, budget: int = 10) -> int:
    """Group the published comments waiting in the queue: for each consultation with some (at most
    ``budget`` batches in all), one transaction holding that consultation's advisory lock catches its
    index up with rows other instances wrote, places a batch and writes it. Returns the comments
    grouped."""
    with uow.transaction() as store:
        due = store.grouping_due()
    done = 0
    for cid in due:
        while budget > 0:
            budget -= 1
            try:
                with uow.transaction() as store:
                    n, more = _group_batch(store, engine, cid)
            except Exception:
                engine.forget(cid)
                raise
            done += n
            if not more:
                break
    return done


def _group_batch(store: Store, engine: grouping.Engine, cid: uuid.UUID) -> tuple[int, bool]:
    if not store.lock_grouping(cid):
        return 0, False
    store.groups_changed(cid)  # a snapshot taken already counts these comments in their groups
    idx = engine.index(cid)
    idx.load(store.grouped_after(cid, idx.upto))
    rows = store.queued(cid, GROUP_BATCH)
    placed, founded, touched, merged = [], [], set(), set()
    for r in rows:
        if r.status != "published" or r.grouped:
            continue
        g = engine.place(idx, r.comment_id, r.body, lambda ids: store.bodies(cid, ids))
        placed.append({"comment_id": g.comment_id, "group_id": g.group_id, "signature": g.signature,
                       "text_hash": g.text_hash, "similarity": g.similarity})
        if g.new_group:
            founded.append((g.group_id, g.comment_id))
        else:
            touched.add(g.group_id)
        merged.update(g.merged)
    for p in placed:  # a group founded and merged in this batch never reaches the database
        p["group_id"] = idx.find(p["group_id"])
    new = {g for g, _ in founded}
    top = store.add_grouped(cid, placed, [(g, c) for g, c in founded if idx.find(g) == g])
    moved = {g: idx.find(g) for g in merged if g not in new}
    if moved:
        top = max(top, store.merge_groups(cid, moved))
    idx.upto = max(idx.upto, top)
    touched = {idx.find(g) for g in touched | merged | new}
    if touched:
        _choose_representatives(store, cid, touched)
    store.unqueue(cid, [r.comment_id for r in rows])
    return len(placed), len(rows) == GROUP_BATCH


def _choose_representatives(store: Store, cid: uuid.UUID, groups: set) -> None:
    variants = store.text_variants(cid, sorted(groups))
    store.set_representatives(cid, {g: rules.choose_representative(v) for g, v in variants.items()})


# ---- the snapshot (on consultation_closed, or on demand) ----------------------------------------

@dataclass
class Gathered:
    """Everything a snapshot needs from other services, read before our transaction opens."""

    data: dict
    returning: set[uuid.UUID] = field(default_factory=set)
    profiles: list[ParticipantProfile] = field(default_factory=list)
    backfilled: bool = False


def _backfill_comments(transaction: Transaction, src: Sources, cid: uuid.UUID) -> None:
    """Consultations' comments into the read model, a page per short transaction (the merge makes a
    page that overlaps events harmless)."""
    after = None
    while True:
        chunk = ReportCommentPage.model_validate(src.comments(str(cid), after, BACKFILL_PAGE, True))
        with transaction() as store:
            store.merge_comments([{
                "consultation_id": cid, "comment_id": c.id, "author_id": c.author_id,
                "author_name": signed_as(c.author_name, c.organisation_name),
                "body": c.body, "created_at": c.created_at, "alternative_id": c.alternative_id,
                "paragraph_id": c.paragraph_id, "status": c.status, "decided_at": c.decided_at,
                "grounds": c.rejection_grounds or None, "channel": c.channel.value} for c in chunk.items])
            store.queue_grouping(cid, [c.id for c in chunk.items if c.status == "published"])
        after = chunk.next_after
        if after is None:
            return


def _backfill_respondents(transaction: Transaction, src: Sources, cid: uuid.UUID) -> None:
    after = None
    while True:
        chunk = ReportRespondentPage.model_validate(src.respondents(str(cid), after, BACKFILL_PAGE))
        with transaction() as store:
            store.add_respondents(cid, chunk.items)
        after = str(chunk.next_after) if chunk.next_after is not None else None
        if after is None:
            return


def gather(transaction: Transaction, src: Sources, cid: uuid.UUID, expected: dict | None = None) -> Gathered:
    """The consultation's page (one call), the read model checked against ``expected`` (the closing
    event's counts, else consultations' counts now) and completed from consultations when it falls
    short, then each participant's first-time mark and age band (calls of up to 5,000 persons)."""
    data = src.source(str(cid))
    if data["status"] not in ("closed", "archived"):
        raise Conflict("Звіт складають після завершення консультації", code="consultation_not_closed")
    expected = expected if expected and expected.get("comments") is not None else data["counts"]
    with transaction() as store:
        have = store.feed_counts(cid)
    got = Gathered(data=data)
    if not rules.read_model_complete(have, expected):
        log.info("read model incomplete for a closed consultation: backfilling from consultations")
        _backfill_comments(transaction, src, cid)
        _backfill_respondents(transaction, src, cid)
        got.backfilled = True
    if src.breakdown is not None:  # respondents by type and channel, kept with the snapshot's source
        b = RespondentBreakdown.model_validate(src.breakdown(str(cid)))
        data["respondent_breakdown"] = {"by_type": b.by_type, "by_channel": b.by_channel}
    with transaction() as store:
        ids = store.participant_ids(cid)
    if ids:
        got.returning = set(src.returning(cid, ids))
        got.profiles = src.profiles(ids, date.fromisoformat((data["closed_at"] or now().isoformat())[:10]))
    return got


def take_snapshot(store: Store, cid: uuid.UUID, got: Gathered, replace: bool = False) -> bool:
    """Freeze the read model as the report's snapshot (one INSERT … SELECT) with the participants;
    the protocol's files are rendered afterwards (:func:`render_protocols`). Idempotent: an existing
    snapshot stays unless ``replace``; never once a version is published."""
    existing = store.snapshot(cid, lock=True)
    if existing is not None and not replace:
        return False
    if existing is not None and store.versions(cid):
        raise Conflict("Звіт уже оприлюднено: знімок незмінний", code="report_published")
    data = got.data
    page = data["consultation"]
    store.clear_snapshot_rows(cid)
    submitted, published = store.copy_feed_comments(cid)
    store.insert_participants(((cid, p.person_id, p.full_name, p.age_band,
                                p.person_id not in got.returning) for p in got.profiles))
    taken = now()
    values = dict(title=page["title"], category=page["category"], form=page["form"],
                  unit_id=uuid.UUID(data["unit_id"]) if data["unit_id"] else None, unit_name=page["unit_name"],
                  source=data, closed_at=data["closed_at"], report_due=data["report_due"],
                  comments_published=published, comments_submitted=submitted, participants=len(got.profiles),
                  taken_at=taken)
    store.upsert_snapshot(cid, values)
    store.request_protocol(cid, taken)
    return True


def may_retake(store: Store, actor: Principal | None, cid: uuid.UUID) -> bool:
    """Checked before anything is read from other services: with a snapshot, the owning unit's
    officials or an administrator may take it again (True); without one, an administrator may
    (True) and an official only if the consultation is their unit's (False: ask consultations)."""
    if store.snapshot(cid) is not None:
        _editable(store, actor, cid, admin=True)
        return True
    if actor is None:
        raise Forbidden("Знімок бере посадова особа підрозділу-власника або адміністратор", code="not_owner")
    return actor.has(Role.admin)


def check_owner(actor: Principal | None, data: dict) -> None:
    if actor is None or not data["unit_id"] or uuid.UUID(data["unit_id"]) not in actor.units():
        raise Forbidden("Знімок бере посадова особа підрозділу-власника або адміністратор", code="not_owner")


def retake(store: Store, actor: Principal | None, cid: uuid.UUID, got: Gathered) -> ReportOut:
    """On demand (consultations closed before this service existed, or a missed event)."""
    if store.snapshot(cid) is not None:
        _editable(store, actor, cid, admin=True)
    elif not (actor is not None and actor.has(Role.admin)):
        check_owner(actor, got.data)
    take_snapshot(store, cid, got, replace=True)
    return _report_view(store, actor, cid)



def snapshot_on_demand(uow, src: Sources, actor: Principal | None, cid: uuid.UUID) -> ReportOut:
    """The rights are checked before other services are asked, the snapshot taken after."""
    with uow.transaction() as store:
        allowed = may_retake(store, actor, cid)
    if not allowed:
        check_owner(actor, src.source(str(cid)))
    got = gather(uow.transaction, src, cid)
    with uow.transaction() as store:
        return retake(store, actor, cid, got)


def consultation_closed(uow, src: Sources, key: str, event_id, cid: uuid.UUID, expected: dict) -> None:
    """Snapshot the read model (checked against the event's ``expected`` counts, completed from
    consultations if short); other services are asked before our transaction opens, so the event is
    claimed under ``key`` in the last transaction, not in the first. A redelivery changes nothing."""
    with uow.transaction() as store:
        if store.snapshot(cid) is not None:
            store.claim_event(key, event_id)
            return
    got = gather(uow.transaction, src, cid, expected)
    with uow.transaction() as store:
        if store.claim_event(key, event_id):
            take_snapshot(store, cid, got)


def consultation_archived(uow, src: Sources, files_store, key: str, event_id, cid: uuid.UUID,
                          archived_at: datetime, decision_adopted_on) -> None:
    """The archive bundle (R-1.11), with a snapshot first if none was taken; what other services
    hold is read before the transaction that claims the event under ``key``."""
    with uow.transaction() as store:
        missing = store.snapshot(cid) is None
    got = gather(uow.transaction, src, cid) if missing else None
    page = got.data["consultation"] if got else src.source(str(cid))["consultation"]
    with uow.transaction() as store:
        if store.claim_event(key, event_id):
            if got is not None:
                take_snapshot(store, cid, got)
            archive(store, files_store, cid, page, archived_at, decision_adopted_on)


# ---- consideration of proposals (R-3.16) --------------------------------------------------------

@one_transaction
def consider(store: Store, actor: Principal | None, cid: uuid.UUID, comment_ids: list[uuid.UUID],
             c: Consideration) -> int:
    """Mark one or many proposals with the same consideration (bulk where many say the same)."""
    _unpublished_report(store, actor, cid)
    ids = list(dict.fromkeys(comment_ids))
    known = store.known_proposals(cid, ids)
    unknown = [str(i) for i in ids if i not in known]
    if unknown:
        raise InvalidInput(f"Не пропозиції цієї консультації: {len(unknown)}", code="proposal_not_found",
                           errors=[{"field": "comment_ids", "message": i} for i in unknown[:rules.SHOWN_IDS]])
    return _write_considerations(store, actor, cid, ids, c)


def _write_considerations(store: Store, actor: Principal, cid: uuid.UUID, ids: list[uuid.UUID],
                          c: Consideration) -> int:
    store.upsert_considerations([
        {"consultation_id": cid, "comment_id": i, "outcome": c.outcome.value,
         "justification": (c.justification or "").strip() or None, "decided_by": actor.person_id} for i in ids])
    return len(ids)


@one_transaction
def set_conclusion(store: Store, actor: Principal | None, cid: uuid.UUID, text: str) -> ReportOut:
    _editable(store, actor, cid)
    if store.versions(cid):
        raise Conflict("Звіт оприлюднено: висновок незмінний", code="report_published")
    store.set_snapshot(cid, conclusion=text)
    return _report_view(store, actor, cid)


def _targets(snap) -> Callable[[object, object], str]:
    page = snap.source["consultation"]
    alts = {a["id"]: f"альтернатива {a['position']}: {a['text']}" for a in page.get("alternatives", [])}
    paras = {p["id"]: f"пункт {p['number']}" for p in page.get("paragraphs", [])}

    def target(alternative_id, paragraph_id) -> str:
        if alternative_id:
            return alts.get(str(alternative_id), "альтернатива")
        if paragraph_id:
            return paras.get(str(paragraph_id), "пункт")
        return "загалом"
    return target


@one_transaction
def proposals(store: Store, actor: Principal | None, cid: uuid.UUID, page: int, per_page: int,
              missing_only: bool) -> ProposalPage:
    snap = _visible(store, actor, cid)
    target = _targets(snap)
    total, rows = store.proposal_page(cid, page, per_page, missing_only)
    return ProposalPage(items=[_proposal_out(r, target) for r in rows], total=total, considered=store.considered(cid),
                        page=page, per_page=per_page)


def _proposal_out(r, target, cls=ProposalOut, **extra) -> ProposalOut:
    return cls(comment_id=r.comment_id, number=r.seq, author_name=r.author_name, created_at=r.created_at,
               target=target(r.alternative_id, r.paragraph_id), body=r.body, outcome=r.outcome,
               justification=r.justification, group_id=r.group_id, channel=r.channel, **extra)


# ---- groups of near-identical proposals on the desk (R-3.16) ------------------------------------

AUTHORS_SHOWN = 20


def _representative(store: Store, cid: uuid.UUID, group_id: uuid.UUID, grouped: bool | None = None):
    return store.representative_of(cid, group_id, grouped) or store.group_members(cid, group_id, 0, 1, grouped)[0]


SUMMARIES_KEPT = 1024  # groups' counts remembered in this process, by the snapshot's groups_version
_summaries: OrderedDict[tuple, object] = OrderedDict()


def _summary_of(store: Store, snap, group_id: uuid.UUID, grouped: bool | None = None):
    """The group's counts and considerations (``store.group_summary``: an aggregate over all its
    members, 40,000 for a campaign) as of the snapshot's ``groups_version``: counted once per
    version in this process, since every write that changes them gives the snapshot a new one in
    the same transaction."""
    key = (snap.consultation_id, group_id, snap.groups_version)
    known = _summaries.get(key)
    if known is not None:
        _summaries.move_to_end(key)
        return known
    summary = store.group_summary(snap.consultation_id, group_id, grouped)
    _summaries[key] = summary
    while len(_summaries) > SUMMARIES_KEPT:
        _summaries.popitem(last=False)
    return summary


def _group_out(store: Store, cid: uuid.UUID, group_id: uuid.UUID, summary, target, first_rows=(),
               rep=None) -> GroupOut:
    """``first_rows``: the group's first members when already read (their authors are the first)."""
    rep = rep or _representative(store, cid, group_id)
    authors = [r.author_name for r in first_rows][:AUTHORS_SHOWN] if len(first_rows) >= min(
        AUTHORS_SHOWN, summary.size) else store.group_authors(cid, group_id, AUTHORS_SHOWN)
    return GroupOut(group_id=group_id, heading=rules.group_heading(summary.size), size=summary.size,
                    considered=summary.considered, representative=_proposal_out(rep, target), authors=authors,
                    more_authors=max(0, summary.size - len(authors)),
                    outcomes=[OutcomeCount(outcome=o, justification=j, count=n)
                              for o, j, n in rules.outcome_summary(summary.outcomes)])


@one_transaction
def groups(store: Store, actor: Principal | None, cid: uuid.UUID, page: int, per_page: int,
           min_size: int) -> GroupPage:
    snap = _visible(store, actor, cid)
    target = _targets(snap)
    total, rows = store.group_page(cid, page, per_page, min_size)
    return GroupPage(items=[_group_out(store, cid, r.group_id, _summary_of(store, snap, r.group_id), target)
                            for r in rows], total=total, page=page, per_page=per_page)


def _group_summary(store: Store, snap, group_id: uuid.UUID, grouped: bool | None = None):
    summary = _summary_of(store, snap, group_id, grouped)
    if not summary.size:
        raise NotFound("Такої групи пропозицій немає", code="group_not_found")
    return summary


@one_transaction
def group(store: Store, actor: Principal | None, cid: uuid.UUID, group_id: uuid.UUID, page: int,
          per_page: int) -> GroupDetail:
    """The group with a page of its members, each with what it changes in the representative."""
    head_row = store.group_head(cid, group_id)
    snap = _seen(actor, head_row, lambda: head_row.published)
    target = _targets(snap)
    grouped = snap.grouped
    summary = _group_summary(store, snap, group_id, grouped)
    rows = store.group_members(cid, group_id, (page - 1) * per_page, per_page, grouped)
    rep_row = next((r for r in rows if r.comment_id == snap.representative_id), None) \
        or _representative(store, cid, group_id, grouped)  # on the page: the same row representative_of reads
    head = _group_out(store, cid, group_id, summary, target, rows if page == 1 else (), rep_row)
    rep = head.representative

    def text_hash(row) -> str:  # stored by the grouper; computed for a proposal not grouped yet
        return row.text_hash or rules.text_hash(rules.normalise(row.body))
    rep_hash = text_hash(rep_row)
    differ = rules.word_differ(rep.body)  # the representative's words normalised once, not per member
    members = []
    for r in rows:
        same = text_hash(r) == rep_hash
        diff = [{"op": "same", "text": r.body}] if same else [{"op": op, "text": t} for op, t in differ(r.body)]
        members.append(_proposal_out(r, target, GroupMember, same_text=same, similarity=r.similarity, diff=diff))
    return GroupDetail(group=head, editable=snap.archived_at is None and not snap.published, title=snap.title,
                       owner=owns(actor, snap), members=members,
                       total=summary.size, page=page, per_page=per_page)


def _unpublished_report(store: Store, actor: Principal | None, cid: uuid.UUID):
    snap = _editable(store, actor, cid)
    if store.versions(cid):
        raise Conflict("Звіт оприлюднено: розгляд незмінний", code="report_published")
    return snap


@one_transaction
def consider_group(store: Store, actor: Principal | None, cid: uuid.UUID, group_id: uuid.UUID,
                   c: Consideration) -> int:
    """One consideration for every member of the group, written for each proposal (so every
    proposal stays considered one by one, R-3.16)."""
    _unpublished_report(store, actor, cid)
    ids = store.group_member_ids(cid, group_id)
    if not ids:
        raise NotFound("Такої групи пропозицій немає", code="group_not_found")
    return _write_considerations(store, actor, cid, ids, c)


@one_transaction
def split_group(store: Store, actor: Principal | None, cid: uuid.UUID, group_id: uuid.UUID,
                comment_id: uuid.UUID) -> int:
    """The member becomes a group of its own (its consideration, if any, stays until changed)."""
    snap = _unpublished_report(store, actor, cid)
    _group_summary(store, snap, group_id)
    if store.group_of(cid, comment_id) != group_id:
        raise InvalidInput("Пропозиція не належить до цієї групи", code="not_in_group",
                           errors=[{"field": "comment_id", "message": "не член цієї групи"}])
    if group_id == comment_id:
        return 0
    left = store.split_out(cid, comment_id)
    if left is not None:
        _choose_representatives(store, cid, {left})
    return 1


@one_transaction
def contributions(store: Store, cid: uuid.UUID, after: uuid.UUID | None, limit: int) -> ContributionPage:
    """A page of a published report's contributors, each with every published comment and its
    consideration (the "you said, we did" messages; docs/notifications.md). Not found until a
    version is published: before that nothing is decided."""
    snap = store.snapshot(cid)
    done = store.versions(cid) if snap is not None else []
    if not done:
        raise NotFound("Звіту не знайдено", code="report_not_found")
    target = _targets(snap)
    authors = store.contributors(cid, after, limit + 1)
    rows = store.contributions_of(cid, authors[:limit])
    decision = snap.source["consultation"].get("decision")
    return ContributionPage(
        consultation_id=cid, title=snap.title, report_version=done[-1].version,
        decision=DecisionRef(number=decision["number"], adopted_on=decision["adopted_on"], title=decision["title"])
        if decision else None,
        items=[AuthorContributions(author_id=author, comments=[
            Contribution(comment_id=r.comment_id, number=r.seq, target=target(r.alternative_id, r.paragraph_id),
                         excerpt=rules.excerpt(r.body), outcome=Outcome(r.outcome), justification=r.justification)
            for r in group if r.outcome is not None]) for author, group in rules.group_by_author(rows)],
        next_after=authors[limit - 1] if len(authors) > limit else None)


# ---- the report and its versions ----------------------------------------------------------------

def _version_out(r) -> VersionOut:
    return VersionOut(version=r.version, reason=r.reason, published_at=r.published_at,
                      content_sha256=r.content_sha256, files=r.files)


def representativeness(store: Store, snap) -> dict:
    """The report's table (R-3.16): persons by age band and first time or returning, and respondents
    by type (a private person, or each kind of institution) and by channel (R-3.12)."""
    rep = store.representativeness(snap.consultation_id)
    kept = (snap.source or {}).get("respondent_breakdown") or {}
    return {**rep, "by_type": kept.get("by_type", {})}


def _report_view(store: Store, actor: Principal | None, cid: uuid.UUID) -> ReportOut:
    snap = _visible(store, actor, cid)
    done = store.versions(cid)
    return ReportOut(
        consultation_id=cid, title=snap.title, unit_name=snap.unit_name,
        status="published" if done else "draft", closed_at=snap.closed_at, report_due=snap.report_due,
        overdue=rules.overdue(snap.report_due, done[0].published_at if done else None, now()),
        proposals=snap.comments_published, considered=store.considered(cid), participants=snap.participants,
        representativeness=representativeness(store, snap), conclusion=snap.conclusion,
        versions=[_version_out(v) for v in done], archived=snap.archived_at is not None,
        retain_until=snap.retain_until)


def report_view(uow, actor: Principal | None, cid: uuid.UUID) -> ReportOut:
    with uow.transaction() as store:
        return _report_view(store, actor, cid)


@one_transaction
def versions(store: Store, actor: Principal | None, cid: uuid.UUID) -> VersionList:
    _visible(store, actor, cid)
    return VersionList(items=[_version_out(v) for v in store.versions(cid)])


def _document(store: Store, snap, version: int, published_at: datetime) -> render.Document:
    src = snap.source
    page = src["consultation"]
    notice = page.get("notice") or {}
    rep = representativeness(store, snap)
    decision = page.get("decision")
    materials = [a for a in page.get("attachments", []) if a["kind"] == "material"]
    decision_files = [a for a in page.get("attachments", []) if a["kind"] == "decision"]
    sections = [
        ("Орган, що проводив консультацію", [snap.unit_name or "—", f"Відповідальна особа: "
                                            f"{notice.get('responsible_official') or '—'}"]),
        ("Питання", [page["question"]]),
    ]
    if page.get("alternatives"):
        sections.append(("Альтернативи", [f"{a['position']}. {a['text']}" for a in page["alternatives"]]))
    if page.get("paragraphs"):
        sections.append(("Проєкт акта", [f"{p['number']}. {p['text']}" for p in page["paragraphs"]]))
    sections.append(("Матеріали", [f"{a['title']} ({a['filename']}, SHA-256 {a['sha256']})" for a in materials]
                     or ["—"]))
    tallies = src.get("results") or {}
    lines = [f"{a['text']}: {a['supporters']}" for a in tallies.get("alternatives", [])]
    for q in tallies.get("questions", []):
        lines.append(f"{q['text']}: " + "; ".join(f"{o['text']} — {o['count']}" for o in q["options"]))
    if lines:
        sections.append(("Результати голосування та опитування", lines))
    names = store.participant_names(snap.consultation_id)
    more = snap.participants - len(names)
    sections.append(("Учасники", [f"Усього: {snap.participants}; пропозицій і зауважень: {snap.comments_published}",
                                  "За віком: " + "; ".join(f"{b}: {n}" for b, n in rep["age_bands"].items()),
                                  f"Уперше: {rep['first_time']}; повторно: {rep['returning']}",
                                  "За типом учасника: " + ("; ".join(
                                      f"{RESPONDENT_TYPE_LABELS.get(k, k)}: {n}" for k, n in rep["by_type"].items())
                                      or "—"),
                                  rules.channel_line(rep["by_channel"]),
                                  ", ".join(names) + (f" та ще {more}" if more > 0 else "")]))
    sections.append(("Узагальнений висновок", [snap.conclusion or "—"]))
    if decision:
        sections.append(("Рішення", [f"{decision['number']} від {decision['adopted_on']}: {decision['title']}",
                                     decision["text"]]
                         + [f"Додаток: {a['title']} ({a['filename']}, SHA-256 {a['sha256']})" for a in decision_files]))
    meta = {"consultation_id": str(snap.consultation_id), "title": snap.title, "version": version,
            "published_at": published_at.isoformat(), "unit": snap.unit_name, "question": page["question"],
            "form": page["form"], "category": page["category"], "notice": notice,
            "alternatives": page.get("alternatives", []), "paragraphs": page.get("paragraphs", []),
            "materials": materials, "results": tallies, "participants": snap.participants,
            "representativeness": rep, "conclusion": snap.conclusion, "decision": decision,
            "decision_attachments": decision_files}
    return render.Document(
        title=f"Звіт про результати консультації «{snap.title}» (версія {version})", sections=sections, meta=meta,
        columns=[("number", "№"), ("author_name", "Автор"), ("created_at", "Подано"), ("channel", "Канал"),
                 ("target", "Щодо"), ("body", "Пропозиція"), ("outcome", "Результат розгляду"), ("justification", "Обґрунтування"),
                 ("comment_id", "Ідентифікатор"), ("group_id", "Група однакових/майже однакових")])


def _outcome_text(outcome: str | None, justification: str | None) -> str:
    if outcome is None:
        return "не розглянуто"
    label = OUTCOME_LABELS[Outcome(outcome)]
    return f"{label}: {justification}" if justification else label


def _group_blocks(store: Store, cid: uuid.UUID) -> dict:
    """Every group of two or more published proposals as the people-facing files show it once, at
    its first member: «N однакових/майже однакових пропозицій», the representative text, every
    author and the considerations (R-3.14, R-3.16)."""
    blocks = {}
    for g in store.report_groups(cid):
        rep = _representative(store, cid, g.group_id)
        blocks[g.group_id] = {
            "first_seq": g.first_seq, "heading": rules.group_heading(g.size), "body": rep.body,
            "authors": "Автори: " + ", ".join(g.authors),
            "outcome": "; ".join(_outcome_text(o, j) + (f" ({n})" if n < g.size else "")
                                 for o, j, n in rules.outcome_summary(store.group_summary(cid, g.group_id).outcomes))}
    return blocks


def _grouped(r, row: dict, blocks: dict) -> dict:
    """``group_id`` on a published member of a group; the group's block on its first member."""
    block = blocks.get(r.group_id) if r.status == "published" else None
    if block is not None:
        row["group_id"] = str(r.group_id)
        if r.seq == block["first_seq"]:
            row["group"] = block
    return row


def _report_rows(store: Store, snap) -> Iterator[dict]:
    target = _targets(snap)
    blocks = _group_blocks(store, snap.consultation_id)
    for r in store.proposal_rows(snap.consultation_id):
        yield _grouped(r, {
            "number": r.seq, "comment_id": str(r.comment_id), "author_name": r.author_name,
            "created_at": r.created_at.isoformat(timespec="seconds"), "channel": CHANNEL_LABELS[r.channel],
            "target": target(r.alternative_id, r.paragraph_id),
            "body": r.body, "outcome": OUTCOME_LABELS[Outcome(r.outcome)] if r.outcome else None,
            "justification": r.justification}, blocks)


def _store_files(files_store, doc: render.Document, rows: Iterator[dict], stem: str) -> dict[str, dict]:
    """Render every format into a temporary directory and keep each in the file store by SHA-256."""
    with tempfile.TemporaryDirectory(prefix="econsult-report-") as tmp:
        paths = render.write_all(doc, rows, tmp, stem)
        files = {}
        for fmt, path in paths.items():
            with open(path, "rb") as f:
                data = f.read()
            files[fmt] = {"sha256": files_store.put(data), "size": len(data), "content_type": render.CONTENT_TYPES[fmt]}
            del data
        return files


def _build_version(store: Store, files_store, snap, page: dict, reason: str, actor_id,
                   public_url: str) -> VersionOut | None:
    """A new immutable version when what it would say differs from the last one; None otherwise.
    ``page``: the consultation's page now (its decision and attachments), read before the transaction."""
    cid = snap.consultation_id
    source = {**snap.source, "consultation": {**snap.source["consultation"], "decision": page.get("decision"),
                                              "attachments": page.get("attachments", [])}}
    mark = rules.fingerprint(page.get("decision"), page.get("attachments", []))
    previous = store.versions(cid)
    if previous and previous[-1].source_sha256 == mark:
        return None
    store.set_snapshot(cid, source=source)
    snap = store.snapshot(cid)
    number = (previous[-1].version + 1) if previous else 1
    at = now()
    files = _store_files(files_store, _document(store, snap, number, at), _report_rows(store, snap),
                         f"report-v{number}")
    row = store.insert_version(consultation_id=cid, version=number, published_at=at, published_by=actor_id,
                               reason=reason, content_sha256=files["json"]["sha256"], files=files, source_sha256=mark)
    base = f"{public_url.rstrip('/')}/api/v1/consultations/{cid}/report"
    store.add_event(ReportPublished(consultation_id=cid, report_version=number, published_at=at,
                                       files={fmt: f"{base}.{fmt}?version={number}" for fmt in files}))
    return _version_out(row)


def publish_check(store: Store, actor: Principal | None, cid: uuid.UUID) -> bool:
    """Before anything is read from consultations: may ``actor`` publish, and is a version out already?"""
    snap = _editable(store, actor, cid)
    rules.refuse_unless_complete(store.missing(cid), snap.conclusion)
    return bool(store.versions(cid))


def _queue_publish(store: Store, actor: Principal | None, cid: uuid.UUID, page: dict | None) -> dict:
    """Version 1 once every proposal is considered and the conclusion written (R-3.16); later, a new
    version when the decision or its attachments changed (R-3.18; ``page``: the consultation now).
    Checked here; the files are rendered by :func:`publish_due` off the request."""
    snap = _editable(store, actor, cid)
    rules.refuse_unless_complete(store.missing(cid), snap.conclusion)
    previous = store.versions(cid)
    if previous and page is not None and previous[-1].source_sha256 == rules.fingerprint(
            page.get("decision"), page.get("attachments", [])):
        raise Conflict("Ця версія звіту вже оприлюднена", code="already_published")
    store.request_publish(cid, "decision" if previous else "publish", actor.person_id)
    return {"consultation_id": str(cid), "status": "queued", "next_version": len(previous) + 1}


def publish(uow, src: Sources, actor: Principal | None, cid: uuid.UUID) -> dict:
    """Checked first; the consultation's page is read only for a later version, before the
    transaction that queues it."""
    with uow.transaction() as store:
        again = publish_check(store, actor, cid)
    page = src.source(str(cid))["consultation"] if again else None
    with uow.transaction() as store:
        return _queue_publish(store, actor, cid, page)


def publish_due(uow, src: Sources, files_store, public_url: str) -> int:
    """Render and store the versions asked for; each consultation's page is read before the
    transaction that renders it."""
    with uow.transaction() as store:
        due = store.publish_candidates()
    made = 0
    for cid in due:
        page = src.source(str(cid))["consultation"]
        with uow.transaction() as store:
            made += publish_one(store, files_store, cid, page, public_url)
    return made


def publish_one(store: Store, files_store, cid: uuid.UUID, page: dict, public_url: str) -> bool:
    """Build the version requested for ``cid`` if this instance gets the request (SKIP LOCKED)."""
    req = store.claim_publish(cid)
    if req is None:
        return False
    snap = store.snapshot(cid, lock=True)
    made = False
    if snap is not None and snap.archived_at is None:
        with metrics.render_tracked():
            made = _build_version(store, files_store, snap, page, req.reason, req.requested_by, public_url) is not None
    store.drop_publish(cid)
    return made


def on_decision(store: Store, cid: uuid.UUID) -> bool:
    """decision_published: a published report gets a new version with the decision (R-3.16, R-3.18),
    rendered by the publishing timer; an unpublished one will carry it in version 1."""
    snap = store.snapshot(cid, lock=True)
    if snap is None or not store.versions(cid):
        return False
    store.request_publish(cid, "decision")
    return True


@one_transaction
def file_of(store: Store, actor: Principal | None, cid: uuid.UUID, fmt: str, version: int | None) -> dict:
    _visible(store, actor, cid)
    row = store.version_row(cid, version)
    if row is None or fmt not in (row.files or {}):
        raise NotFound("Такої версії звіту немає", code="report_version_not_found")
    return {**row.files[fmt], "filename": f"report-{cid}-v{row.version}.{fmt}", "version": row.version}


@one_transaction
def delete_report(store: Store, actor: Principal | None, cid: uuid.UUID, today: date) -> None:
    """Administrators may drop an unpublished draft report (e.g. to start again); published versions
    are immutable and an archived report is kept five years after the decision (R-1.11)."""
    if actor is None or not actor.has(Role.admin):
        raise Forbidden("Видаляє адміністратор", code="role_required")
    snap = _visible(store, actor, cid, lock=True)
    if snap.archived_at is not None and (snap.retain_until is None or snap.retain_until > today):
        raise Conflict(f"Архів зберігається до {snap.retain_until} (п. 1.11)", code="retention_period")
    if store.versions(cid):
        raise Conflict("Оприлюднені версії звіту незмінні", code="published_versions_immutable")
    store.delete_snapshot(cid)


# ---- the protocol (R-3.14) ------------------------------------------------------------------------

def _protocol_document(snap, full: bool) -> render.Document:
    counts = {"submitted": snap.comments_submitted, "published": snap.comments_published}
    columns = [("number", "№"), ("author_name", "Автор"), ("created_at", "Подано"), ("channel", "Канал"),
               ("status", "Результат модерації"), ("target", "Щодо"), ("body", "Текст"),
               ("decided_at", "Рішення модерації"), ("group_id", "Група однакових/майже однакових")]
    if full:
        columns.append(("grounds", "Підстави відхилення (п. 3.7, 1.5)"))
    return render.Document(
        title=f"Протокол консультації «{snap.title}»",
        sections=[("Подані коментарі", [f"Усього подано: {snap.comments_submitted}; оприлюднено: "
                                        f"{snap.comments_published}"] + ([] if full else [
                                            "Публічна версія: відхилені та неопрацьовані коментарі не "
                                            "оприлюднюються (лише їх кількість)"]))],
        meta={"consultation_id": str(snap.consultation_id), "title": snap.title, "full": full, "counts": counts},
        columns=columns, formats=render.PROTOCOL_FORMATS, rows_title="Коментарі")


def _protocol_rows(store: Store, snap, full: bool) -> Iterator[dict]:
    target = _targets(snap)
    blocks = _group_blocks(store, snap.consultation_id)
    for r in store.proposal_rows(snap.consultation_id, published_only=not full):
        yield _grouped(r, {"number": r.seq, "author_name": r.author_name,
                           "created_at": r.created_at.isoformat(timespec="seconds"),
                           "channel": CHANNEL_LABELS[r.channel], "status": rules.STATUS_LABELS.get(r.status, r.status),
                           "target": target(r.alternative_id, r.paragraph_id),
                           "body": r.body,
                           "decided_at": r.decided_at.isoformat(timespec="seconds") if r.decided_at else None,
                           "grounds": r.grounds or None}, blocks)


def protocol_files(store: Store, snap, files_store, full: bool) -> dict[str, dict]:
    return _store_files(files_store, _protocol_document(snap, full), _protocol_rows(store, snap, full), "protocol")


@one_transaction
def render_protocols(store: Store, files_store) -> int:
    """The protocol never changes after closing: rendered once per snapshot, by a timer (any number
    of instances: SKIP LOCKED), so the snapshot is ready without waiting for its files."""
    req = store.claim_protocol()
    if req is None:
        return 0
    # a snapshot being taken again holds its lock and then writes this request: waiting for it here,
    # with the request's row locked, would deadlock; the next tick renders it
    if not store.try_lock_snapshot(req.consultation_id):
        return 0
    snap = store.snapshot(req.consultation_id)
    if snap is not None and snap.taken_at == req.taken_at and not snap.protocol:
        with metrics.render_tracked():
            protocol = {"full": protocol_files(store, snap, files_store, True),
                        "public": protocol_files(store, snap, files_store, False)}
        store.set_snapshot(snap.consultation_id, protocol=protocol)
    store.drop_protocol(req.consultation_id, req.taken_at)
    return 1


@one_transaction
def protocol_file(store: Store, actor: Principal | None, files_store, cid: uuid.UUID, fmt: str) -> dict:
    """Every submitted comment with time, author and moderation outcome (grounds too) for the owning
    unit, moderators and administrators; the public version lists the published ones. Rendered
    here if asked for before the timer got to it."""
    snap = store.snapshot(cid)
    if snap is None:
        raise NotFound("Протоколу ще немає", code="protocol_not_found")
    full = insider(actor, snap)
    files = (snap.protocol or {}).get("full" if full else "public") or protocol_files(store, snap, files_store, full)
    if fmt not in files:
        raise NotFound("Такого формату немає", code="format_not_found")
    return {**files[fmt], "filename": f"protocol-{cid}{'' if full else '-public'}.{fmt}"}


# ---- the printable consultation pack -------------------------------------------------------------

PACKS_KEPT = 512  # packs remembered by what they are made from (the file store keeps the bytes)
_packs: OrderedDict[str, dict] = OrderedDict()


def consultation_pack(files_store, page: dict) -> dict:
    """The pack of a consultation as ``page`` (read from consultations for the caller) shows it: a
    PDF written as the report's is, kept in the file store by its SHA-256. Rendered once per content
    (``rules.pack_fingerprint``) in this process: the same pack for every reader costs no new render
    (a render holds the service's event loop for its whole run)."""
    key = rules.pack_fingerprint(page)
    known = _packs.get(key)
    if known is not None:
        _packs.move_to_end(key)
        return known
    doc = render.Document(title=f"Консультація з громадськістю: «{page['title']}»",
                          sections=rules.pack_sections(page), meta={}, columns=[], formats=("pdf",),
                          rows_title=None)
    files = _store_files(files_store, doc, iter(()), "pack")
    made = {**files["pdf"], "filename": f"consultation-pack-{page['id']}.pdf"}
    _packs[key] = made
    while len(_packs) > PACKS_KEPT:
        _packs.popitem(last=False)
    return made


# ---- the archive (R-1.11) -------------------------------------------------------------------------

def archive(store: Store, files_store, cid: uuid.UUID, page: dict, archived_at: datetime,
            decision_date: date | None) -> str:
    """consultation_archived: read-only from now on, kept five years after the decision, and two zip
    bundles (materials, protocol, report versions, decision) with ``manifest.sha256``: the public
    one carries the public protocol (a rejected or pending comment is never public, R-3.9), the
    one for the owning unit, moderators and administrators the full protocol (R-3.14).
    ``page``: the consultation's page now, read before the transaction."""
    snap = store.snapshot(cid, lock=True)
    if snap.bundle_sha256:
        return snap.bundle_sha256
    protocol = snap.protocol or {}
    digest, text = _bundle(store, files_store, snap, page,
                           protocol.get("public") or protocol_files(store, snap, files_store, False))
    full_digest, full_text = _bundle(store, files_store, snap, page,
                                     protocol.get("full") or protocol_files(store, snap, files_store, True))
    store.set_snapshot(cid, archived_at=archived_at,
                       retain_until=rules.retain_until(decision_date, archived_at.date()),
                       bundle_sha256=digest, manifest=text, full_bundle_sha256=full_digest, full_manifest=full_text)
    return digest


def _bundle(store: Store, files_store, snap, page: dict, protocol: dict[str, dict]) -> tuple[str, str]:
    """One zip in the file store; returns its SHA-256 and its manifest."""
    entries: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="econsult-bundle-") as tmp:
        path = os.path.join(tmp, "bundle.zip")
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            def add(name: str, data: bytes) -> None:
                z.writestr(name, data)
                entries.append((name, hashlib.sha256(data).hexdigest()))

            add("consultation.json", json.dumps(page, ensure_ascii=False, indent=1).encode())
            add("materials/manifest.json", json.dumps(page.get("attachments", []), ensure_ascii=False, indent=1).encode())
            for a in page.get("attachments", []):
                blob = files_store.get(a["sha256"])
                if blob is not None:
                    add(f"materials/{a['kind']}-{a['sha256'][:12]}-{rules.entry_name(a['filename'])}", blob)
            if page.get("decision"):
                add("decision.json", json.dumps(page["decision"], ensure_ascii=False, indent=1).encode())
            for fmt, f in protocol.items():
                add(f"protocol/protocol.{fmt}", files_store.get(f["sha256"]))
            for v in store.versions(snap.consultation_id):
                for fmt, f in v.files.items():
                    blob = files_store.get(f["sha256"])
                    if blob is not None:
                        add(f"report/v{v.version}/report.{fmt}", blob)
            text = rules.manifest(entries)
            z.writestr("manifest.sha256", text)
        with open(path, "rb") as f:
            return files_store.put(f.read()), text


@one_transaction
def bundle(store: Store, actor: Principal | None, cid: uuid.UUID) -> dict:
    """The full bundle for the insiders, the public one for everyone else."""
    snap = store.snapshot(cid)
    if snap is None or not snap.bundle_sha256:
        raise NotFound("Архівного пакета немає", code="bundle_not_found")
    full = insider(actor, snap) and snap.full_bundle_sha256
    return {"sha256": snap.full_bundle_sha256 if full else snap.bundle_sha256,
            "manifest": snap.full_manifest if full else snap.manifest, "retain_until": snap.retain_until.isoformat(),
            "filename": f"consultation-{cid}{'' if full else '-public'}.zip", "content_type": "application/zip"}


# ---- statistics --------------------------------------------------------------------------------

@one_transaction
def stats(store: Store, counts: list[dict], year: int, at: datetime) -> ReportStats:
    """``counts``: consultations of the year by category and status (from consultations)."""
    by_cat: dict[int, int] = {}
    by_status: dict[str, int] = {}
    for c in counts:
        by_cat[c["category"]] = by_cat.get(c["category"], 0) + c["count"]
        by_status[c["status"]] = by_status.get(c["status"], 0) + c["count"]
    per = []
    for r in store.closed_in(year):
        per.append({"consultation_id": str(r.consultation_id), "title": r.title, "category": r.category,
                    "participants": r.participants, "comments": r.comments_published,
                    "considered": r.n or 0, "report_published_at": r.first.isoformat() if r.first else None,
                    "deadline_met": r.first is not None and (r.report_due is None or r.first <= r.report_due),
                    "overdue": rules.overdue(r.report_due, r.first, at)})
    comments_total = sum(p["comments"] for p in per)
    return ReportStats(
        year=year, consultations_by_category=[{"category": k, "count": v} for k, v in sorted(by_cat.items())],
        consultations_by_status=[{"status": k, "count": v} for k, v in sorted(by_status.items())],
        closed=len(per), participants=sum(p["participants"] for p in per), comments=comments_total,
        proposals_considered_share=round(sum(p["considered"] for p in per) / comments_total, 4) if comments_total else 0.0,
        reports_published=sum(1 for p in per if p["report_published_at"]),
        deadlines_met=sum(1 for p in per if p["deadline_met"]),
        deadlines_missed=sum(1 for p in per if p["overdue"]), per_consultation=per)


# ---- who is missing while a consultation runs (R-3.12) -------------------------------------------

def participation(uow, src: Sources, actor: Principal | None, cid: uuid.UUID, on: date, shares: dict,
                  min_cell: int) -> Participation:
    """Who has taken part so far against the community's ``shares``, for the owning unit while the
    consultation is active (to everyone else it does not exist: 404). Persons come from the read
    model (authors of published comments, respondents), their age bands from the registry (birth
    dates never leave it), first time or returning from consultations, respondents by type and
    channel from consultations; counts below ``min_cell`` are withheld."""
    b = RespondentBreakdown.model_validate(src.breakdown(str(cid)))
    if not owns(actor, b):
        raise NotFound("Консультацію не знайдено", code="consultation_not_found")
    if b.status.value != "active":
        raise Conflict("Участь у реальному часі видно, лише поки консультація триває; далі — звіт",
                       code="consultation_not_active")
    with uow.transaction() as store:
        ids = store.participant_ids(cid)
    returning = set(src.returning(cid, ids)) if ids else set()
    ages: dict[str, int] = {}
    for p in (src.profiles(ids, on) if ids else []):
        ages[p.age_band] = ages.get(p.age_band, 0) + 1
    persons, respondents = len(ids), sum(b.by_type.values())
    counts = {"age_band": (ages, persons, {k: v for k, v in AGE_BAND_LABELS.items() if k != "unknown"}),
              "visits": ({"first_time": persons - len(returning), "returning": len(returning)}, persons, VISIT_LABELS),
              "channel": (b.by_channel, respondents, CHANNEL_LABELS),
              "respondent_type": (b.by_type, respondents, RESPONDENT_TYPE_LABELS)}
    return Participation(consultation_id=cid, as_of=now(), persons=persons, respondents=respondents,
                         min_cell=min_cell, dimensions=[
                             rules.dimension(key, DIMENSIONS[key][0], labels, found, total, shares.get(key, {}),
                                             min_cell)
                             for key, (found, total, labels) in counts.items()])
