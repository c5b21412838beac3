"""Ordinary Ukrainian text to measure the screening's false positives on: the regulation and its
explanatory note (which must pass), and seeded sentences, names and addresses from Faker's
Ukrainian locale. Used by the unit tests and bench/moderation.py."""
from __future__ import annotations

import re
from pathlib import Path

REGULATION_DIR = Path(__file__).resolve().parents[3] / "shared" / "regulation"


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
