"""The reports service's read model and its snapshot, over its real PostgreSQL database with the other
services replaced by plain functions (``handlers.Sources``): consultations' events applied in any
order and more than once, the snapshot taken from the read model without paging comments from
consultations, a short read model completed from consultations, and no transaction of ours open
while another service is asked (R-3.14, R-3.16)."""
from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from sqlalchemy import select, text

from contracts.consultations import Channel
from contracts.registry import ParticipantProfile
from services.reports import handlers, rules
from services.reports.models import feed_comments, protocol_requests, snapshot_comments, snapshot_participants
from services.reports.store import Store

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)


def submitted(cid, n: int, author, body: str | None = None, alternative_id=None):
    return SimpleNamespace(consultation_id=cid, comment_id=uuid.UUID(int=n + 1), author_id=author,
                           author_name=f"Автор {n}", body=body or f"Пропозиція {n}", submitted_at=T0 + timedelta(minutes=n),
                           alternative_id=alternative_id, paragraph_id=None, channel=Channel.web,
                           organisation_name=None)


def outcome(cid, n: int, author, grounds=()):
    return SimpleNamespace(consultation_id=cid, comment_id=uuid.UUID(int=n + 1), author_id=author, grounds=list(grounds))


class Consultations:
    """Consultations and the registry as the reports service sees them; records each call and
    whether a transaction of the reports database was open during it."""

    def __init__(self, engine, cid, comments: list[dict], respondents: list[str], counts: dict):
        self.engine, self.cid, self.rows, self.people, self.counts = engine, cid, comments, respondents, counts
        self.calls: list[str] = []
        self.open_transactions: list[int] = []

    def _note(self, name: str) -> None:
        self.calls.append(name)
        with self.engine.connect() as conn:
            self.open_transactions.append(conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()")).scalar_one())

    def source(self, cid):
        self._note("source")
        page = {"title": "Сквер", "category": 17, "form": "proposal", "unit_name": "Управління", "question": "Який?",
                "alternatives": [], "paragraphs": [], "attachments": []}
        return {"consultation": page, "results": {}, "unit_id": None, "status": "closed",
                "closed_at": "2026-11-20T00:00:00+00:00", "report_due": "2026-12-05T00:00:00+00:00",
                "counts": self.counts}

    def comments(self, cid, after, limit, everything):
        self._note("comments")
        start = int(after[1]) if after else 0
        items = self.rows[start:start + limit]
        return {"items": items, "next_after": ["-", str(start + limit)] if start + limit < len(self.rows) else None}

    def respondents(self, cid, after, limit):
        self._note("respondents")
        return {"items": self.people, "next_after": None}

    def returning(self, cid, ids):
        self._note("returning")
        return ids[:1]  # as the typed clients give them: UUIDs and models

    def profiles(self, ids, on):
        self._note("profiles")
        return [ParticipantProfile(person_id=p, full_name=f"Особа {str(p)[-4:]}", age_band="18–35") for p in ids]

    def sources(self) -> handlers.Sources:
        return handlers.Sources(source=self.source, comments=self.comments, respondents=self.respondents,
                                returning=self.returning, profiles=self.profiles)


def snapshot_rows(engine, cid):
    with engine.connect() as conn:
        return conn.execute(select(snapshot_comments).where(snapshot_comments.c.consultation_id == cid)
                            .order_by(snapshot_comments.c.seq)).all()


def test_R_3_14_and_R_3_16_events_in_any_order_and_twice_make_the_same_read_model_and_the_snapshot_pages_no_comment(
        engine, transaction):
    """R-3.14 (every submitted comment with its moderation outcome) and R-3.16 (every proposal in the
    report): comment_submitted/published/rejected and survey_answered applied shuffled and each twice
    give one row per comment with its latest status (a late approval never undoes a rejection); at
    closing the snapshot comes from the read model in one statement, asking consultations for its page
    and the participants' marks only."""
    cid = uuid.uuid4()
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    events = [(handlers.comment_submitted, submitted(cid, 0, a)), (handlers.comment_published, outcome(cid, 0, a)),
              (handlers.comment_submitted, submitted(cid, 1, b)), (handlers.comment_published, outcome(cid, 1, b)),
              (handlers.comment_rejected, outcome(cid, 1, b, ["obscene"])),
              (handlers.comment_submitted, submitted(cid, 2, c)),
              (handlers.comment_submitted, submitted(cid, 3, a)), (handlers.comment_rejected, outcome(cid, 3, a, ["spam"]))]
    events *= 2
    random.Random(7).shuffle(events)
    at = T0 + timedelta(days=1)
    for apply, data in events:
        with transaction() as store:
            apply(store, data, at)
    with transaction() as store:
        handlers.survey_answered(store, SimpleNamespace(consultation_id=cid, person_id=c))
        handlers.survey_answered(store, SimpleNamespace(consultation_id=cid, person_id=c))

    counts = {"comments": {"pending": 1, "published": 1, "rejected": 2}, "respondents": 1}
    fake = Consultations(engine, cid, [], [], counts)
    got = handlers.gather(transaction, fake.sources(), cid, counts)
    with transaction() as store:
        assert handlers.take_snapshot(store, cid, got)
        assert not handlers.take_snapshot(store, cid, got)  # a redelivered closing changes nothing

    assert "comments" not in fake.calls and "respondents" not in fake.calls and not got.backfilled
    rows = snapshot_rows(engine, cid)
    assert [(r.seq, r.body, r.status, r.grounds) for r in rows] == [
        (1, "Пропозиція 0", "published", None), (2, "Пропозиція 1", "rejected", ["obscene"]),
        (3, "Пропозиція 2", "pending", None), (4, "Пропозиція 3", "rejected", ["spam"])]
    with engine.connect() as conn:
        people = conn.execute(select(snapshot_participants.c.person_id, snapshot_participants.c.first_time)
                              .where(snapshot_participants.c.consultation_id == cid)).all()
        queued = conn.execute(select(protocol_requests).where(protocol_requests.c.consultation_id == cid)).all()
    assert {p.person_id for p in people} == {a, c}  # the published author and the respondent
    assert sum(not p.first_time for p in people) == 1 and len(queued) == 1


def test_R_3_14_and_R_3_16_a_read_model_short_of_the_closing_counts_is_completed_from_consultations(engine, transaction):
    """R-3.14 and R-3.16: nothing submitted may be missing because an event came late or before the
    read model existed: when the closing counts say more, consultations' comments and respondents are
    read in pages and merged (what the events already gave stays)."""
    cid = uuid.uuid4()
    author = uuid.uuid4()
    with transaction() as store:  # the read model saw one comment and its rejection only
        handlers.comment_submitted(store, submitted(cid, 0, author), T0)
        handlers.comment_rejected(store, outcome(cid, 0, author, ["obscene"]), T0)
    older = [{"id": str(uuid.UUID(int=n + 1)), "author_id": str(author), "author_name": f"Автор {n}",
              "body": f"Пропозиція {n}", "created_at": (T0 + timedelta(minutes=n)).isoformat(), "alternative_id": None,
              "paragraph_id": None, "status": "published", "decided_at": T0.isoformat(), "rejection_grounds": [],
              "rejection_note": None}
             for n in range(7)]
    older[0] |= {"status": "rejected", "rejection_grounds": ["obscene"]}
    respondent = str(uuid.uuid4())
    counts = {"comments": {"pending": 0, "published": 6, "rejected": 1}, "respondents": 1}
    fake = Consultations(engine, cid, older, [respondent], counts)
    handlers.BACKFILL_PAGE, saved = 3, handlers.BACKFILL_PAGE
    try:
        got = handlers.gather(transaction, fake.sources(), cid, counts)
    finally:
        handlers.BACKFILL_PAGE = saved
    with transaction() as store:
        handlers.take_snapshot(store, cid, got)
    assert got.backfilled and fake.calls.count("comments") == 3
    rows = snapshot_rows(engine, cid)
    assert [r.body for r in rows] == [f"Пропозиція {n}" for n in range(7)]
    assert rows[0].status == "rejected" and rows[0].grounds == ["obscene"]
    with engine.connect() as conn:
        assert conn.execute(select(feed_comments.c.status).where(feed_comments.c.consultation_id == cid,
                                                                 feed_comments.c.comment_id == uuid.UUID(int=1))
                            ).scalar_one() == "rejected"
        people = conn.execute(select(snapshot_participants.c.person_id)
                              .where(snapshot_participants.c.consultation_id == cid)).scalars().all()
    assert {str(p) for p in people} == {str(author), respondent}


def test_R_3_16_no_transaction_of_the_reports_database_is_open_while_other_services_are_asked(engine, transaction):
    """R-3.16: the snapshot asks consultations and the registry before its own transaction opens, so
    no row lock (and no connection) is held across a call to another service."""
    cid = uuid.uuid4()
    counts = {"comments": {"pending": 0, "published": 2, "rejected": 0}, "respondents": 0}
    rows = [{"id": str(uuid.UUID(int=n + 1)), "author_id": str(uuid.uuid4()), "author_name": "Автор", "body": f"Т {n}",
             "created_at": T0.isoformat(), "alternative_id": None, "paragraph_id": None, "status": "published",
             "decided_at": None, "rejection_grounds": [], "rejection_note": None} for n in range(2)]
    fake = Consultations(engine, cid, rows, [], counts)
    got = handlers.gather(transaction, fake.sources(), cid, counts)
    assert {"source", "comments", "returning", "profiles"} <= set(fake.calls)
    assert fake.open_transactions == [0] * len(fake.calls)
    with transaction() as store:
        handlers.take_snapshot(store, cid, got)
    assert len(snapshot_rows(engine, cid)) == 2


def test_R_3_14_the_read_model_is_complete_only_with_every_status_counted():
    """R-3.14: the closing event's counts per moderation status decide whether the read model may
    stand in for consultations' tables."""
    have = {"comments": {"pending": 1, "published": 5, "rejected": 2}, "respondents": 10}
    assert rules.read_model_complete(have, {"comments": {"pending": 1, "published": 5, "rejected": 2}, "respondents": 10})
    assert not rules.read_model_complete(have, {"comments": {"pending": 0, "published": 6, "rejected": 2},
                                                "respondents": 10})
    assert not rules.read_model_complete(have, {"comments": {"pending": 1, "published": 5, "rejected": 2},
                                                "respondents": 11})


def test_R_3_16_contributions_page_every_author_with_each_published_comment_and_its_consideration(engine, transaction):
    """R-3.16, "you said, we did": a published report's contributors come in pages of authors (id order),
    each with every published comment of theirs (not the rejected or pending ones) and its
    consideration; before a version is published there is nothing to tell (not found)."""
    from chassis.errors import NotFound
    from contracts.reports import Outcome

    cid = uuid.uuid4()
    authors = sorted(uuid.uuid4() for _ in range(3))
    plan = [(0, authors[0], "published"), (1, authors[1], "published"), (2, authors[0], "published"),
            (3, authors[2], "published"), (4, authors[2], "rejected"), (5, authors[1], "pending")]
    with transaction() as store:
        for n, who, status in plan:
            handlers.comment_submitted(store, submitted(cid, n, who, body="Довга пропозиція " + "слово " * 80), T0)
            if status == "published":
                handlers.comment_published(store, outcome(cid, n, who), T0)
            elif status == "rejected":
                handlers.comment_rejected(store, outcome(cid, n, who, ["spam"]), T0)
    counts = {"comments": {"pending": 1, "published": 4, "rejected": 1}, "respondents": 0}
    got = handlers.gather(transaction, Consultations(engine, cid, [], [], counts).sources(), cid, counts)
    uow = SimpleNamespace(transaction=transaction)
    with transaction() as store:
        handlers.take_snapshot(store, cid, got)
        store.upsert_considerations([
            {"consultation_id": cid, "comment_id": uuid.UUID(int=n + 1), "decided_by": uuid.uuid4(),
             "outcome": "accepted" if n % 2 == 0 else "not_accepted", "justification": None if n % 2 == 0 else "Ні"}
            for n, _, status in plan if status == "published"])
    with pytest.raises(NotFound):
        handlers.contributions(uow, cid, None, 10)
    with transaction() as store:
        store.insert_version(consultation_id=cid, version=1, published_at=T0, reason="publish", files={})
    first = handlers.contributions(uow, cid, None, 2)
    assert [a.author_id for a in first.items] == authors[:2] and first.next_after == authors[1]
    assert [(c.number, c.outcome, c.justification) for c in first.items[0].comments] == [
        (1, Outcome.accepted, None), (3, Outcome.accepted, None)]
    assert [(c.number, c.outcome, c.justification) for c in first.items[1].comments] == [(2, Outcome.not_accepted, "Ні")]
    assert first.report_version == 1 and first.decision is None
    assert first.items[0].comments[0].excerpt.endswith("…") and len(first.items[0].comments[0].excerpt) <= 301
    rest = handlers.contributions(uow, cid, first.next_after, 2)
    assert [a.author_id for a in rest.items] == [authors[2]] and rest.next_after is None
    assert [c.number for c in rest.items[0].comments] == [4], "a rejected comment is nobody's proposal"


def test_R_3_16_a_batch_of_events_is_claimed_in_one_statement_and_each_event_applied_once(engine, transaction):
    """Events of record-only handlers that arrive together share one transaction and one claim
    statement on PostgreSQL: an event twice in the batch is applied once, and the same event
    delivered again after the commit is a no-op."""
    import eventlet

    from chassis.consumer import once_per_event
    from chassis.events import make_envelope
    from contracts.consultations import CommentSubmitted

    cid = uuid.uuid4()
    statements = []

    class Reader:
        name = f"reports-batch-{uuid.uuid4().hex[:8]}"  # its own batch and claim keys
        uow = SimpleNamespace(transaction=transaction)
        applied: list = []

        @once_per_event(CommentSubmitted, batch=True)
        def on_comment_submitted(self, store, data):
            handlers.comment_submitted(store, data, T0)
            self.applied.append(data.comment_id)

    def payload(n):
        return make_envelope(CommentSubmitted(comment_id=uuid.UUID(int=n + 1), consultation_id=cid,
                                              author_id=uuid.uuid4(), author_name=f"Автор {n}", body=f"Пропозиція {n}",
                                              submitted_at=T0)).model_dump(mode="json")

    first = [payload(n) for n in range(4)]
    reader = Reader()
    from sqlalchemy import event as sa_event

    def count(conn, cursor, statement, *_):
        if "processed_events" in statement:
            statements.append(statement)
    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        list(eventlet.GreenPool(8).imap(reader.on_comment_submitted, [*first, first[0]]))
        reader.on_comment_submitted(first[1])  # redelivered after the commit
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)
    assert sorted(reader.applied) == [uuid.UUID(int=n + 1) for n in range(4)]
    assert len(statements) == 2  # the batch's claims in one statement, then the redelivery's
    with engine.connect() as conn:
        assert conn.execute(select(feed_comments.c.comment_id).where(feed_comments.c.consultation_id == cid)) \
            .scalars().all().__len__() == 4
