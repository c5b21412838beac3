"""Ordinary Ukrainian text to measure the screening's false positives on: the regulation and its
explanatory note (which must pass; their text is in tests/data/regulation), and seeded sentences,
names and addresses from Faker's Ukrainian locale. Used by tests/unit/test_screening.py;

    python -m tests.support.corpus [--dictionary]

prints the false positives and the screening's speed on them, and with --dictionary over every word
form of the Ukrainian dictionary of pymorphy3-dicts-uk (6.5 million, a few minutes), with a sample
of the held forms for moderators to review."""
from __future__ import annotations

import argparse
import os
import re
import time
from pathlib import Path

REGULATION_DIR = Path(__file__).resolve().parents[1] / "data" / "regulation"


def regulation_sentences() -> list[str]:
    out: list[str] = []
    for path in sorted(REGULATION_DIR.glob("*.uk.txt")):
        text = path.read_text(encoding="utf-8")
        out += [s.strip() for s in re.split(r"(?<=[.!?;])\s+|\n+", text) if len(s.strip()) > 3]
    return out


def faker_sentences(n: int = 3000, seed: int = 2026) -> list[str]:
    from faker import Faker

    fake = Faker("uk_UA")
    Faker.seed(seed)
    sentences = [fake.sentence(nb_words=12) for _ in range(n)]
    sentences += [f"{fake.name()}, {fake.street_address()}, {fake.city()}" for _ in range(n // 6)]
    return sentences


# Words that hold the letters of an obscene root but are ordinary Ukrainian (or Russian) words.
TRICKY = ("рахуйте", "застрахуйте", "врахуйте", "розрахуйте", "страхування", "себе", "тебе", "небо", "потребує",
          "сукня", "сукно", "бляха", "бляшанка", "бляклий", "бляск", "мандат", "мандарин", "мандрівка", "підорати",
          "ебеновий", "ебонітовий", "хурма", "худий", "хутір", "хуліган", "хустка", "хребет", "гребля", "жеребкування",
          "вебсайт", "перебування", "оберіг", "небезпека", "Херсон", "шлюз", "пиріг", "залужний", "мудрий",
          "Сукачов", "подебатувати", "ebony", "shitake", "bitcoin", "Dick Van Dyke")


def false_positives(dictionary: bool) -> None:
    from contracts.screening import lexicon, normalise_word, screen

    for name, texts in (("regulation sentences", regulation_sentences()),
                        ("ordinary sentences (Faker uk_UA)", faker_sentences(3000))):
        started = time.perf_counter()
        held = [t for t in texts if screen(t).held]
        rate = len(texts) / (time.perf_counter() - started)
        print(f"{name:<36} {len(held):>5} held of {len(texts):>6} ({len(held) / len(texts):.3%}); "
              f"{rate:,.0f} texts/s")
    if not dictionary:
        return

    import dawg_python
    import pymorphy3_dicts_uk

    words = dawg_python.RecordDAWG(">HH").load(os.path.join(pymorphy3_dicts_uk.get_path(), "words.dawg"))
    lex, total, flagged = lexicon(), 0, []
    started = time.perf_counter()
    for word in words.iterkeys():
        total += 1
        norm = normalise_word(word)
        if lex.holds(norm):
            flagged.append(word)
    print(f"{'Ukrainian dictionary word forms':<36} {len(flagged):>5} held of {total:>6} "
          f"({len(flagged) / total:.4%}) in {time.perf_counter() - started:.0f} s "
          "(the dictionary also lists real obscene words; review the sample below)")
    print("sample of held forms:", ", ".join(sorted(set(flagged))[:: max(1, len(set(flagged)) // 40)]))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="The screening's false positives on ordinary Ukrainian text.")
    ap.add_argument("--dictionary", action="store_true", help="also every word form of the Ukrainian dictionary")
    false_positives(ap.parse_args().dictionary)
