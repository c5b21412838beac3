"""Groups of near-identical proposals over the reports service's real PostgreSQL database: comments
grouped as consultations' events arrive (in any order), the grouping continued by a fresh process
and by a second instance from the rows alone, and the desk's use cases — one consideration for a
whole group stored per proposal, a member split out, the report's rows with their group_id
(R-3.16, R-3.14)."""
from __future__ import annotations

import random
import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from chassis.errors import Forbidden, InvalidInput, NotFound
from contracts.identity import Role
from contracts.reports import Consideration
from services.reports import grouping, handlers, rules
from services.reports.models import comment_grouping, comment_groups, considerations, group_texts, grouping_queue
from tests.reports.test_read_model import T0, Consultations, outcome, submitted

CAMPAIGN = ("Вимагаємо зберегти сквер біля школи номер п'ять і не віддавати землю під забудову: там гуляють діти, "
            "відпочивають літні люди, ростуть старі липи і каштани. Просимо облаштувати доріжки, лавки, освітлення "
            "і дитячий майданчик, а проєкт благоустрою обговорити з мешканцями району на громадських слуханнях. "
            "Сквер є єдиним зеленим місцем у мікрорайоні, де немає іншого парку, а навколо вже стоять нові "
            "багатоповерхівки. Просимо депутатів підтримати рішення про надання скверу статусу об'єкта "
            "благоустрою загального користування та передбачити кошти в бюджеті наступного року")
UNIT = uuid.uuid4()


def variant(i: int) -> str:
    words = CAMPAIGN.split()
    words[i % len(words)] = ["дуже", "також", "конче", "негайно"][i % 4]
    text = " ".join(words)
    return (f"Шановні депутати! {text}" if i % 3 == 0 else text).replace("о", "o", 1 if i % 2 else 0)


def uow(transaction):
    return SimpleNamespace(transaction=transaction)


def publish(transaction, cid, n: int, body: str, body_late: bool = False) -> None:
    """consultations' comment_submitted and comment_published for comment ``n`` (published first
    when ``body_late``: the text arrives after the grouper has looked)."""
    author = uuid.UUID(int=10_000 + n)
    steps = [(handlers.comment_submitted, submitted(cid, n, author, body)), (handlers.comment_published,
                                                                              outcome(cid, n, author))]
    for apply, data in (steps[::-1] if body_late else steps):
        with transaction() as store:
            apply(store, data, T0 + timedelta(minutes=n))


def groups_of(engine, cid) -> dict:
    with engine.connect() as conn:
        rows = conn.execute(select(comment_grouping.c.comment_id, comment_grouping.c.group_id)
                            .where(comment_grouping.c.consultation_id == cid)).all()
    return {r.comment_id: r.group_id for r in rows}


def test_R_3_16_published_comments_are_grouped_incrementally_and_a_fresh_process_or_a_second_instance_continues(
        engine, transaction):
    """R-3.16: a campaign's variants (case, look-alike letters, a greeting, a changed word) form one
    group and unrelated comments stay alone, grouped off the request path from the queue the
    events fill; a comment whose text arrives after its publication waits for it; a fresh engine
    (a restart) and a second one (another instance) load the rows and put later variants in the same
    group."""
    cid = uuid.uuid4()
    rng = random.Random(3)
    unique = {n: " ".join(f"слово{rng.randrange(5000)}" for _ in range(30)) for n in range(100, 110)}
    for n in range(30):
        publish(transaction, cid, n, variant(n), body_late=(n == 5))
    for n, body in unique.items():
        publish(transaction, cid, n, body)
    first = grouping.Engine()
    assert handlers.group_pending(uow(transaction), first) == 40
    got = groups_of(engine, cid)
    campaign = {got[uuid.UUID(int=n + 1)] for n in range(30)}
    assert len(campaign) == 1 and len(got) == 40
    assert all(got[uuid.UUID(int=n + 1)] not in campaign for n in unique)
    assert len({got[uuid.UUID(int=n + 1)] for n in unique}) == len(unique)
    with engine.connect() as conn:
        assert conn.execute(select(grouping_queue).where(grouping_queue.c.consultation_id == cid)).all() == []

    restarted, other = grouping.Engine(), grouping.Engine()
    publish(transaction, cid, 40, variant(40))
    assert handlers.group_pending(uow(transaction), restarted) == 1
    publish(transaction, cid, 41, variant(41))
    assert handlers.group_pending(uow(transaction), other) == 1
    publish(transaction, cid, 42, variant(42))
    assert handlers.group_pending(uow(transaction), restarted) == 1  # catches up with what `other` wrote
    got = groups_of(engine, cid)
    assert {got[uuid.UUID(int=n + 1)] for n in (40, 41, 42)} == campaign
    with engine.connect() as conn:
        top = conn.execute(select(comment_grouping.c.seq).where(comment_grouping.c.consultation_id == cid)
                           .order_by(comment_grouping.c.seq.desc()).limit(1)).scalar_one()
    assert restarted.indexes[cid].upto == top


def owner():
    return SimpleNamespace(person_id=uuid.uuid4(), units=lambda: {UNIT}, has=lambda role: False)


class Owned(Consultations):
    def source(self, cid):
        return {**super().source(cid), "unit_id": str(UNIT)}


def closed_with_groups(engine, transaction, campaign: int = 12, unique: int = 3):
    cid = uuid.uuid4()
    for n in range(campaign):
        publish(transaction, cid, n, variant(n))
    for n in range(campaign, campaign + unique):
        publish(transaction, cid, n, f"Окрема думка номер {n}: відремонтувати дах поліклініки та ліфт")
    assert handlers.group_pending(uow(transaction), grouping.Engine()) == campaign + unique
    counts = {"comments": {"pending": 0, "published": campaign + unique, "rejected": 0}, "respondents": 0}
    got = handlers.gather(transaction, Owned(engine, cid, [], [], counts).sources(), cid, counts)
    with transaction() as store:
        handlers.take_snapshot(store, cid, got)
    return cid


def test_R_3_16_one_consideration_for_a_whole_group_is_stored_per_proposal_and_a_member_can_be_split_out(
        engine, transaction):
    """R-3.16: the desk lists the group with its representative, count and authors; one
    consideration applies to each member (every proposal considered one by one underneath); a
    member split out is a group of its own, considered alone; a stranger's group is 404, a
    non-member refused by field."""
    cid = closed_with_groups(engine, transaction)
    me = owner()
    page = handlers.groups(uow(transaction), me, cid, 1, 20, 2)
    assert page.total == 1
    big = page.items[0]
    assert big.size == 12 and big.heading == "12 однакових/майже однакових пропозицій"
    assert big.authors == [f"Автор {n}" for n in range(12)] and big.more_authors == 0
    assert big.representative.body in {variant(n) for n in range(12)}
    detail = handlers.group(uow(transaction), me, cid, big.group_id, 1, 5)
    assert detail.total == 12 and len(detail.members) == 5
    changed = [m for m in detail.members if not m.same_text]
    assert changed and all(any(p.op != "same" for p in m.diff) for m in changed)

    n = handlers.consider_group(uow(transaction), me, cid, big.group_id,
                                Consideration(outcome="partly_accepted", justification="Доріжки вже в плані"))
    assert n == 12
    with engine.connect() as conn:
        rows = conn.execute(select(considerations.c.outcome, considerations.c.justification)
                            .where(considerations.c.consultation_id == cid)).all()
    assert len(rows) == 12 and set(rows) == {("partly_accepted", "Доріжки вже в плані")}

    member = detail.members[1].comment_id
    assert handlers.split_group(uow(transaction), me, cid, big.group_id, member) == 1
    assert handlers.group(uow(transaction), me, cid, big.group_id, 1, 50).total == 11
    alone = handlers.group(uow(transaction), me, cid, member, 1, 50)
    assert alone.total == 1 and alone.members[0].comment_id == member
    assert handlers.consider_group(uow(transaction), me, cid, member, Consideration(outcome="accepted")) == 1

    with pytest.raises(InvalidInput) as refused:
        handlers.split_group(uow(transaction), me, cid, big.group_id, member)
    assert refused.value.errors[0]["field"] == "comment_id"
    with pytest.raises(NotFound):
        handlers.group(uow(transaction), me, cid, uuid.uuid4(), 1, 50)
    stranger = SimpleNamespace(person_id=uuid.uuid4(), units=lambda: set(), has=lambda role: role == Role.moderator)
    with pytest.raises(Forbidden):
        handlers.consider_group(uow(transaction), stranger, cid, big.group_id, Consideration(outcome="accepted"))


def test_R_3_16_a_groups_counts_on_the_desk_follow_every_write_that_changes_them(engine, transaction):
    """R-3.16: the desk's counts of a group (size, considered, the considerations) are kept between
    requests by the snapshot's groups_version; a consideration of one member or of the whole group,
    a split and a comment the grouper places after the snapshot each give it a new one, so the
    next page counts afresh."""
    cid = closed_with_groups(engine, transaction)
    me = owner()
    gid = handlers.groups(uow(transaction), me, cid, 1, 20, 2).items[0].group_id

    def head():
        return handlers.group(uow(transaction), me, cid, gid, 1, 5).group

    def version():
        with transaction() as store:
            return store.snapshot(cid).groups_version
    assert (head().size, head().considered) == (12, 0)
    one = handlers.group(uow(transaction), me, cid, gid, 1, 5).members[0].comment_id
    handlers.consider(uow(transaction), me, cid, [one], Consideration(outcome="accepted"))
    assert head().considered == 1 and [(o.outcome.value if o.outcome else None, o.count) for o in head().outcomes] \
        == [("accepted", 1), (None, 11)]
    handlers.consider_group(uow(transaction), me, cid, gid, Consideration(outcome="not_accepted",
                                                                          justification="Інше рішення"))
    assert head().considered == 12 and [(o.justification, o.count) for o in head().outcomes] == [("Інше рішення", 12)]
    handlers.split_group(uow(transaction), me, cid, gid, one)
    assert (head().size, head().considered) == (11, 11)
    before = version()
    publish(transaction, cid, 50, variant(50))  # published in the last second, grouped after the snapshot
    assert handlers.group_pending(uow(transaction), grouping.Engine()) == 1
    assert version() > before


def test_R_3_14_and_R_3_16_report_rows_carry_the_group_id_and_the_group_block_once(engine, transaction):
    """R-3.14, R-3.16: the report's rows keep one row per comment with its group_id; the group's
    block («N однакових/майже однакових пропозицій», representative, every author) sits on its first
    member only, so the files people read show it once."""
    cid = closed_with_groups(engine, transaction, campaign=5, unique=2)
    with transaction() as store:
        snap = store.snapshot(cid)
        rows = list(handlers._report_rows(store, snap))
    assert len(rows) == 7
    grouped = [r for r in rows if r.get("group_id")]
    assert len(grouped) == 5 and len({r["group_id"] for r in grouped}) == 1
    blocks = [r["group"] for r in rows if "group" in r]
    assert len(blocks) == 1 and blocks[0]["heading"] == rules.group_heading(5)
    assert blocks[0]["authors"] == "Автори: " + ", ".join(f"Автор {n}" for n in range(5))
    assert blocks[0]["outcome"] == "не розглянуто"


def test_R_3_16_the_representative_is_the_most_shared_text_through_merges_and_splits(engine, transaction):
    """R-3.16: a group's representative is the text most of its members share (normalised), kept from
    per-text counts as comments are grouped, as two groups merge (their counts add up) and as members
    are split out (a count goes down), so choosing it never reads the whole group; the counts always
    equal the members' rows."""
    words = CAMPAIGN.split()
    left = " ".join(["Шановні", "депутати!"] + words[:10] + ["дуже"] + words[11:] + ["З", "повагою"])
    right = " ".join(words[:30] + ["також"] + words[31:] + ["Дякую", "вам"])
    cid, n = uuid.uuid4(), iter(range(1000))

    def send(body: str, copies: int) -> list[uuid.UUID]:
        sent = []
        for k in range(copies):
            i = next(n)
            publish(transaction, cid, i, body.upper() if k % 2 else body)  # the same text once normalised
            sent.append(uuid.UUID(int=i + 1))
        assert handlers.group_pending(uow(transaction), grouping.Engine()) == copies
        return sent

    def representative():
        group = groups_of(engine, cid)[firsts["right"]]
        with engine.connect() as conn:
            rep = conn.execute(select(comment_groups.c.representative_id).where(
                comment_groups.c.consultation_id == cid, comment_groups.c.group_id == group)).scalar_one()
            rows = conn.execute(select(comment_grouping.c.group_id, comment_grouping.c.text_hash)
                                .where(comment_grouping.c.consultation_id == cid,
                                       comment_grouping.c.split.is_(False))).all()
            counts = conn.execute(select(group_texts.c.group_id, group_texts.c.text_hash, group_texts.c.members)
                                  .where(group_texts.c.consultation_id == cid)).all()
        assert {(g, h, m) for g, h, m in counts} == {(g, h, rows.count((g, h))) for g, h in set(rows)}
        return rep

    firsts = {"left": send(left, 2)[0], "right": send(right, 3)[0]}
    assert len(set(groups_of(engine, cid).values())) == 2
    send(CAMPAIGN, 1)  # close to both: links them, the smaller merged into the larger
    assert len(set(groups_of(engine, cid).values())) == 1
    assert representative() == firsts["right"]  # 3 of 6
    more = send(left, 3)
    assert representative() == firsts["left"]  # 5 of 9, its first member kept through the merge

    counts = {"comments": {"pending": 0, "published": 9, "rejected": 0}, "respondents": 0}
    got = handlers.gather(transaction, Owned(engine, cid, [], [], counts).sources(), cid, counts)
    with transaction() as store:
        handlers.take_snapshot(store, cid, got)
    group = groups_of(engine, cid)[firsts["left"]]
    for member in (firsts["left"], *more[:2]):
        assert handlers.split_group(uow(transaction), owner(), cid, group, member) == 1
    assert representative() == firsts["right"]  # 2 left against 3


def test_R_3_16_two_snapshots_of_one_consultation_taken_at_once_are_taken_one_after_the_other(engine, transaction):
    """R-3.16: two officials (or an official and the close event) taking the snapshot of the same
    consultation at the same moment: one waits for the other, neither fails (unserialised, they
    collide on the snapshot's rows, or deadlock, while no snapshot row exists yet to lock)."""
    from concurrent.futures import ThreadPoolExecutor

    for _ in range(4):
        cid = uuid.uuid4()
        for n in range(6):
            publish(transaction, cid, n, variant(n))
        counts = {"comments": {"pending": 0, "published": 6, "rejected": 0}, "respondents": 0}
        got = handlers.gather(transaction, Owned(engine, cid, [], [], counts).sources(), cid, counts)

        def take():
            with transaction() as store:
                return handlers.take_snapshot(store, cid, got, replace=True)

        with ThreadPoolExecutor(4) as pool:
            assert all(f.result() for f in [pool.submit(take) for _ in range(4)])


def test_R_3_14_the_protocol_renderer_passes_over_a_snapshot_being_taken_and_renders_it_after(
        engine, transaction, tmp_path):
    """R-3.14: the timer that renders a snapshot's protocol never waits for a snapshot being taken
    again (that one holds the snapshot and then writes the protocol request the timer holds: a
    deadlock); it leaves the request for its next tick."""
    from concurrent.futures import ThreadPoolExecutor

    from chassis.files import store_from

    uow, files = SimpleNamespace(transaction=transaction), store_from(str(tmp_path))
    while handlers.render_protocols(uow, files):
        pass  # other tests' protocols first: ours is then the only request
    cid = uuid.uuid4()
    for n in range(3):
        publish(transaction, cid, n, variant(n))
    counts = {"comments": {"pending": 0, "published": 3, "rejected": 0}, "respondents": 0}
    got = handlers.gather(transaction, Owned(engine, cid, [], [], counts).sources(), cid, counts)
    with transaction() as store:
        assert handlers.take_snapshot(store, cid, got)
    retake = transaction()
    store = retake.__enter__()
    with ThreadPoolExecutor(1) as pool:
        try:
            store.snapshot(cid, lock=True)  # a retake under way
            assert pool.submit(handlers.render_protocols, uow, files).result(timeout=5) == 0
        finally:
            retake.__exit__(None, None, None)
    assert handlers.render_protocols(uow, files) == 1
    with transaction() as store:
        assert store.snapshot(cid).protocol
