"""The automatic screening (R-3.7): what it holds, what it lets pass, and its false positives on
ordinary Ukrainian text (the regulation itself must pass)."""
from __future__ import annotations

import pytest

from tests.support.corpus import TRICKY, faker_sentences, regulation_sentences
from contracts.screening import fingerprint, screen


@pytest.mark.parametrize("text", [
    "хуйня", "ХУЙНЯ", "xуйня", "хyйня", "x у й н я", "х.у.й", "х-у-й-н-я", "хууууууй", "пиzдець", "пи3дець",
    "бля", "блядь", "заїбали", "заебали", "наїбали", "їбанутий", "уебок", "ти сука", "мудак", "підор",
    "fuck", "FUCK", "fuuuuck", "f*ck", "motherfucker", "shit", "bullshit".replace("bull", ""),
])
def test_obscene_words_are_held_however_written(text):
    """Clause R-3.7."""
    result = screen(f"Коментар: {text} і все")
    assert result.outcome == "hold" and [m["rule"] for m in result.matches] == ["obscene"], result.matches


@pytest.mark.parametrize("word", TRICKY)
def test_ordinary_words_with_the_same_letters_pass(word):
    """Clause R-3.7."""
    assert screen(f"Ми обговорюємо слово {word} у реченні.").outcome == "pass"


@pytest.mark.parametrize("text,rule", [
    ("Детальніше на https://spam.example.com/buy", "link"), ("заходьте на www.kupy.ua", "link"),
    ("купуйте тут shop.xyz", "link"), ("пишіть на ivan@example.org", "email"),
    ("дзвоніть 067 123 45 67", "phone"), ("+380 (50) 123-45-67 у вайбер", "phone"),
    ("мій телеграм t.me/spamchannel", "messenger"), ("", "empty"), ("   ", "empty"), ("?!!...", "only_punctuation"),
])
def test_spam_and_empty_text_are_held(text, rule):
    """Clause R-3.7."""
    result = screen(text)
    assert result.outcome == "hold" and rule in {m["rule"] for m in result.matches}, result.matches


def test_a_copy_of_the_authors_previous_comment_is_held():
    """Clause R-3.7."""
    first = screen("Прошу встановити лавки в парку.")
    assert first.outcome == "pass"
    again = screen("  прошу   встановити ЛАВКИ в парку. ", {first.text_hash})
    assert again.outcome == "hold" and again.matches[0]["rule"] == "duplicate"
    assert screen("Прошу встановити ліхтарі в парку.", {first.text_hash}).outcome == "pass"
    assert fingerprint("Тест") == fingerprint("тест")


def test_false_positives_on_the_regulation_and_ordinary_sentences():
    """Clause R-3.7."""
    regulation = regulation_sentences()
    ordinary = faker_sentences(3000)
    assert len(regulation) > 100 and len(ordinary) >= 3000
    held_regulation = [s for s in regulation if screen(s).held]
    held_ordinary = [s for s in ordinary if screen(s).held]
    print(f"screening false positives: regulation {len(held_regulation)}/{len(regulation)}, "
          f"ordinary sentences {len(held_ordinary)}/{len(ordinary)}")
    assert held_regulation == []
    assert held_ordinary == []


def test_word_lists_are_data_a_moderator_can_extend(tmp_path, monkeypatch):
    import contracts.screening as screening

    data = tmp_path / "data"
    data.mkdir()
    for name in ("obscene_roots.txt", "prefixes.txt", "exceptions.txt"):
        (data / name).write_text((screening.DATA / name).read_text(encoding="utf-8"), encoding="utf-8")
    (data / "obscene_roots.txt").write_text("# only this\nбовдур\n", encoding="utf-8")
    monkeypatch.setattr(screening, "DATA", data)
    screening.lexicon.cache_clear()
    try:
        assert screen("ти бовдуре").outcome == "hold"
        assert screen("хуйня").outcome == "pass"
    finally:
        monkeypatch.undo()
        screening.lexicon.cache_clear()
