"""Groups of near-identical proposals without infrastructure: the normalising the screening does,
shingles and Jaccard, the representative, the word diff, the outcome summary, and the in-memory
grouping engine (MinHash/LSH candidates verified by the actual Jaccard) (R-3.16, R-3.14)."""
from __future__ import annotations

import random
import uuid

from chassis.text import canonical
from services.reports import grouping, rules

TEMPLATE = ("Прошу не вирубувати дерева у сквері біля школи номер п'ять, а облаштувати там доріжки, лавки, "
            "освітлення та дитячий майданчик, зберігши зелену зону для мешканців району і дітей, які щодня "
            "ходять цією дорогою до школи та назад. Просимо також врахувати думку батьків учнів і провести "
            "громадські слухання до початку будь-яких робіт, оприлюднити проєкт благоустрою на сайті ради")


def test_r_3_16_normalising_is_the_screenings_canonical_form():
    """Case, Latin look-alikes inside Cyrillic words, zero-width characters and spacing do not make
    two texts different (the same chassis.text.canonical the screening fingerprints with)."""
    tricky = "ПРОШУ  не вирубуват\u200bи дерева у cквері!!"  # Latin «c», a zero-width space
    assert rules.normalise(tricky) == canonical(tricky) == "прошу не вирубувати дерева у сквері"
    assert rules.text_hash(rules.normalise(tricky)) == rules.text_hash(rules.normalise("прошу не вирубувати "
                                                                                       "дерева у сквері"))


def test_r_3_16_shingles_and_jaccard():
    assert rules.shingles("а б в г") == {"а б", "б в", "в г"}
    assert rules.shingles("одне") == {"одне"} and rules.shingles("") == set()
    a = rules.shingles(rules.normalise(TEMPLATE))
    one_word = rules.shingles(rules.normalise(TEMPLATE.replace("лавки", "лави")))
    assert rules.jaccard(a, a) == 1.0
    assert rules.GROUP_THRESHOLD <= rules.jaccard(a, one_word) < 1.0
    other = rules.shingles(rules.normalise("Підтримую ремонт дороги на вулиці Шевченка та нові зупинки"))
    assert rules.jaccard(a, other) < 0.1


def test_r_3_16_best_group_needs_the_threshold():
    g1, g2 = uuid.uuid4(), uuid.uuid4()
    assert rules.best_group([(g1, 0.86), (g2, 0.97)]) == (g2, 0.97)
    assert rules.best_group([(g1, 0.84)]) == (None, 0.84)
    assert rules.best_group([]) == (None, 0.0)


def test_r_3_16_representative_is_the_text_most_members_share_the_earliest_of_equals():
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    assert rules.choose_representative([(a, 3, 1), (b, 7, 2), (c, 7, 0)]) == c
    assert rules.choose_representative([(a, 1, 5)]) == a
    assert rules.choose_representative([]) is None


def test_r_3_16_diff_against_the_representative_word_by_word():
    rep = "Прошу облаштувати сквер біля школи"
    assert rules.diff_words(rep, "Я ПРОШУ облаштувати парк біля школи!") == [
        ("added", "Я"), ("same", "ПРОШУ облаштувати"), ("removed", "сквер"), ("added", "парк"),
        ("same", "біля школи!")]
    assert rules.diff_words(rep, rep) == [("same", rep)]
    assert rules.diff_words(rep, "") == [("removed", rep)]


def test_r_3_16_outcome_summary_counts_each_consideration_and_the_missing_last():
    rows = [("accepted", None, 2), ("not_accepted", "Суперечить плану", 5), (None, None, 2), ("accepted", None, 1)]
    assert rules.outcome_summary(rows) == [("not_accepted", "Суперечить плану", 5), ("accepted", None, 3),
                                           (None, None, 2)]
    assert rules.group_heading(40000) == "40000 однакових/майже однакових пропозицій"


def _variant(rng: random.Random, i: int) -> str:
    """A campaign member: the template with a greeting, one changed word, odd spacing or case."""
    words = TEMPLATE.split()
    j = rng.randrange(len(words))
    words[j] = rng.choice(["дуже", "також", "негайно", words[j].upper()])
    text = " ".join(words)
    if i % 3 == 0:
        text = f"Добрий день! {text}"
    if i % 5 == 0:
        text = text.replace("о", "o", 2)  # Latin look-alikes
    return text


def test_r_3_16_engine_groups_a_campaign_and_keeps_unique_comments_alone():
    """Precision and recall on a small planted campaign among unrelated comments, with every
    candidate verified (an exact copy joins by its text, a variant by a verified Jaccard ≥ 0.85)."""
    rng = random.Random(7)
    engine, idx = grouping.Engine(), grouping.Index()
    texts: dict = {}
    campaign, unique = [], []
    vocabulary = [f"слово{n}" for n in range(3000)]
    for i in range(300):
        cid = uuid.uuid4()
        if i % 3:
            texts[cid] = _variant(rng, i)
            campaign.append(cid)
        else:
            texts[cid] = " ".join(rng.choice(vocabulary) for _ in range(40))
            unique.append(cid)
    placed = {cid: engine.place(idx, cid, body, lambda ids: {i: texts[i] for i in ids}) for cid, body in texts.items()}
    groups = {placed[c].group_id for c in campaign}
    assert len(groups) == 1, "the campaign is one group"
    assert all(placed[u].new_group and placed[u].group_id not in groups for u in unique)
    assert all(p.similarity is None or p.similarity >= rules.GROUP_THRESHOLD for p in placed.values())
    exact = [c for c in campaign if placed[c].similarity == 1.0]
    assert exact and all(c not in idx.group_of for c in exact), "exact copies are not indexed again"


def test_r_3_16_index_rebuilt_from_rows_groups_as_the_one_that_wrote_them():
    """The database rows are the truth: a fresh process (or another instance) loads the signatures
    and continues with the same groups (the restart case)."""
    engine, idx = grouping.Engine(), grouping.Index()
    first = uuid.uuid4()
    g = engine.place(idx, first, TEMPLATE, lambda ids: {})
    row = type("Row", (), {"comment_id": first, "group_id": g.group_id, "seq": 1, "signature": g.signature,
                           "text_hash": g.text_hash, "similarity": g.similarity, "split": False})
    fresh_engine, fresh = grouping.Engine(), grouping.Index()
    fresh.load([row])
    assert fresh.upto == 1 and fresh.group_of == {first: g.group_id}
    second = fresh_engine.place(fresh, uuid.uuid4(), TEMPLATE.replace("лавки", "лави"), lambda ids: {first: TEMPLATE})
    assert second.group_id == g.group_id and not second.new_group and second.similarity >= rules.GROUP_THRESHOLD
    assert grouping.from_bytes(g.signature).jaccard(grouping.signature(
        rules.shingles(rules.normalise(TEMPLATE)))) == 1.0


def test_r_3_16_the_index_keeps_founders_and_a_bounded_number_of_distinct_members():
    assert rules.indexed(None, 10_000, 64)
    assert rules.indexed(0.9, 63, 64) and not rules.indexed(0.9, 64, 64)
    assert not rules.indexed(rules.INDEX_BELOW, 0, 64), "a near copy adds nothing to the index"


def test_r_3_16_a_comment_close_to_two_groups_links_them_into_the_larger():
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    assert rules.linked({a: 0.9, b: 0.86, c: 0.5}, {a: 1, b: 5}) == (b, [a], 0.9)
    assert rules.linked({a: 0.7}, {a: 3}) == (None, [], 0.7)
    assert rules.linked({}, {}) == (None, [], 0.0)


def test_r_3_16_two_drifted_variants_found_two_groups_and_the_comment_between_them_merges_them():
    """Single linkage over verified pairs: variants that each drifted from the template (below 0.85
    with each other) found two groups; the template itself is close to both and links them, and an
    index loaded from the re-sequenced rows (another instance) follows the merge."""
    words = TEMPLATE.split()
    left = " ".join(["Шановні", "депутати!"] + words[:10] + ["дуже"] + words[11:] + ["З", "повагою"])
    right = " ".join(words[:30] + ["також"] + words[31:] + ["Дякую", "вам"])
    texts = {uuid.uuid4(): t for t in (left, right, TEMPLATE)}
    l_id, r_id, t_id = texts
    assert rules.jaccard(*(rules.shingles(rules.normalise(t)) for t in (left, right))) < rules.GROUP_THRESHOLD
    engine, idx = grouping.Engine(), grouping.Index()
    placed = {cid: engine.place(idx, cid, body, lambda ids: {i: texts[i] for i in ids}) for cid, body in texts.items()}
    assert placed[l_id].new_group and placed[r_id].new_group
    link = placed[t_id]
    assert link.merged and idx.find(placed[l_id].group_id) == idx.find(placed[r_id].group_id) == link.group_id

    other = grouping.Index()
    row = type("Row", (), {"split": False, "similarity": None})
    rows = [type("R", (row,), {"comment_id": c, "group_id": placed[c].group_id, "seq": n, "signature": placed[c].signature,
                               "text_hash": placed[c].text_hash}) for n, c in enumerate((l_id, r_id), 1)]
    other.load(rows)
    assert other.find(placed[l_id].group_id) != other.find(placed[r_id].group_id)
    moved = [type("R", (row,), {"comment_id": c, "group_id": link.group_id, "seq": n, "signature": placed[c].signature,
                                "text_hash": placed[c].text_hash}) for n, c in enumerate((l_id, r_id), 3)]
    other.load(moved)
    assert other.find(placed[l_id].group_id) == other.find(placed[r_id].group_id) == link.group_id
