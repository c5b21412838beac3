"""Draft-act paragraphs keep stable ids across versions; the diff says what changed."""
from services.consultations.drafts import Paragraph, carry_ids, diff, split_paragraphs
from tests.support.samples import V1, V2


def test_split_folds_whitespace_and_blank_lines():
    assert split_paragraphs("  а  б\n\n\n в \r\n\r\n г ") == ["а б", "в", "г"]


def test_ids_survive_edits_and_insertions_get_new_ids():
    """Clause R-1.9."""
    v1 = carry_ids([], split_paragraphs(V1))
    v2 = carry_ids(v1, split_paragraphs(V2))
    assert [p.id for p in v2][:2] == [v1[0].id, v1[1].id]
    assert v2[2].id not in {p.id for p in v1}
    assert v2[3].id == v1[2].id  # "1 січня" → "1 березня": the same paragraph, edited


def test_a_rewritten_paragraph_is_a_new_one():
    v1 = carry_ids([], ["Перший пункт про тарифи.", "Другий пункт."])
    v2 = carry_ids(v1, ["Зовсім інший текст без спільного.", "Другий пункт."])
    assert v2[0].id != v1[0].id and v2[1].id == v1[1].id


def test_diff_marks_same_changed_added_removed():
    """Clause R-1.9."""
    v1 = carry_ids([], split_paragraphs(V1))
    v2 = carry_ids(v1, split_paragraphs(V2))
    assert [d["change"] for d in diff(v1, v2)] == ["changed", "same", "added", "changed"]
    v3 = [p for p in v2 if p.id != v1[1].id]
    changes = diff(v2, v3)
    assert [d["change"] for d in changes] == ["same", "removed", "same", "same"]
    assert changes[1]["before"] == "2. Пільги для студентів зберігаються."
    assert diff([Paragraph(v1[0].id, "x")], []) == [{"paragraph_id": v1[0].id, "change": "removed",
                                                     "before": "x", "after": None}]
