"""Automatic screening of comments and initiatives (R-3.7, R-1.5): never a silent rejection, only
`pass` (published at once) or `hold` (a moderator decides), with what matched.

The moderation service owns these rules and their word lists; they are published here, pure (no I/O
but reading the word lists once), so that the consultations service applies them where a comment is
written and publishes a clean one in the same transaction. Moderation records every outcome from the
``comment_submitted`` event (which carries it) and screens initiatives itself.

Every check reads the text as it is seen (chassis.text.visible: NFKC, no format characters or
stray combining marks). Obscene language is found after normalising each word: lower case, Latin and digit look-alikes
mapped to Cyrillic (when the word is mostly Cyrillic), separators inside a word removed
(«х.у.й», «х у й»), repeated letters collapsed («хууууй»). Roots, prefixes and ordinary-word
exceptions live in data files a moderator can extend without code.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from chassis.text import canonical, visible

DATA = Path(__file__).with_name("screening_data")

# Latin letters and digits that look like Cyrillic ones (used inside mostly-Cyrillic words)
LOOKALIKES = str.maketrans({
    "a": "а", "b": "в", "c": "с", "e": "е", "h": "н", "i": "і", "k": "к", "m": "м", "o": "о",
    "p": "р", "t": "т", "x": "х", "y": "у", "u": "и", "z": "з", "3": "з", "0": "о", "6": "б", "@": "а",
    "ё": "е", "4": "ч",
})
CYRILLIC = re.compile(r"[а-яіїєґё]")
LATIN = re.compile(r"[a-z]")
SEPARATED = re.compile(r"(?<!\w)(?:\w[\s.\-_*'`]+){2,}\w(?!\w)")  # х.у.й, х у й, х-у-й
WORD = re.compile(r"[\w@*'’ʼ]+")
LINK = re.compile(r"(?i)\b(?:https?://|www\.)\S+|\b[a-z0-9-]+\.(?:com|net|org|ru|ua|info|biz|xyz|top|site|online|shop)\b")
EMAIL = re.compile(r"(?i)\b[\w.+-]+@[\w-]+\.[\w.]+\b")
PHONE = re.compile(r"(?:\+?38[\s(-]*)?\(?0\s*\(?\d{2}\)?[\s-]*\d{3}[\s-]*\d{2}[\s-]*\d{2}\b")
HANDLE = re.compile(r"(?i)(?:t\.me/|telegram|viber|вайбер|телеграм)\S*")


@dataclass(frozen=True)
class Lexicon:
    roots: tuple[re.Pattern, ...]
    prefixed_roots: tuple[re.Pattern, ...]
    prefixes: tuple[str, ...]
    exact_exceptions: frozenset[str]
    prefix_exceptions: tuple[str, ...]

    def is_exception(self, word: str) -> bool:
        return word in self.exact_exceptions or word.startswith(self.prefix_exceptions)

    def obscene(self, word: str) -> bool:
        if not word or self.is_exception(word):
            return False
        if any(p.match(word) for p in self.roots):
            return True
        for prefix in self.prefixes:
            if word.startswith(prefix) and len(word) > len(prefix) + 1:
                rest = word[len(prefix):]
                if not self.is_exception(rest) and any(p.match(rest) for p in self.prefixed_roots):
                    return True
        return False

    def holds(self, word: str) -> bool:
        """A normalised word is obscene as written or with repeated letters collapsed; an exception
        as written stays an exception («уеббер» is not «уебер»)."""
        return not self.is_exception(word) and (self.obscene(word) or self.obscene(collapse_repeats(word)))


def _lines(name: str) -> list[str]:
    path = DATA / name
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    roots, prefixed = [], []
    for line in _lines("obscene_roots.txt"):
        pattern = re.compile(line.lstrip("+").strip())
        roots.append(pattern)
        if line.startswith("+"):
            prefixed.append(pattern)
    exceptions = _lines("exceptions.txt")
    return Lexicon(tuple(roots), tuple(prefixed), tuple(sorted(_lines("prefixes.txt"), key=len, reverse=True)),
                   frozenset(e for e in exceptions if not e.endswith("*")),
                   tuple(e[:-1] for e in exceptions if e.endswith("*")))


def collapse_repeats(word: str) -> str:
    return re.sub(r"(.)\1+", r"\1", word)


def normalise_word(raw: str) -> str:
    word = unicodedata.normalize("NFKC", raw).lower().replace("’", "'").replace("ʼ", "'").strip("'*")
    if CYRILLIC.search(word) and (LATIN.search(word) or re.search(r"[0-9@]", word)):
        word = word.translate(LOOKALIKES)
    elif not CYRILLIC.search(word) and re.search(r"[0-9@]", word):
        word = word.replace("0", "o").replace("@", "a").replace("1", "i").replace("$", "s")
    return word.replace("*", "")


def words(text: str) -> list[tuple[str, str]]:
    """(as written, normalised) for every word, separated letters joined first."""
    joined = SEPARATED.sub(lambda m: re.sub(r"[\s.\-_*'`]+", "", m.group(0)), text)
    out = []
    for raw in WORD.findall(joined):
        norm = normalise_word(raw)
        out.append((raw, norm))
    return out


class Screening(BaseModel):
    """What the screening found: carried by ``comment_submitted`` and recorded by moderation."""

    outcome: Literal["pass", "hold"] = Field(description="pass: published at once; hold: a moderator decides")
    matches: list[dict] = Field(default_factory=list, description="what matched: rule, text, ground")
    text_hash: str = Field("", description="fingerprint of the text (sha256 of its canonical form)")

    @property
    def held(self) -> bool:
        return self.outcome == "hold"


def fingerprint(text: str) -> str:
    """The same for texts that differ only in case, spacing, punctuation, invisible characters or
    Latin look-alikes (the comparison the consultations service makes too)."""
    return hashlib.sha256(canonical(text).encode()).hexdigest()


def screen(text: str, previous_hashes: set[str] | frozenset[str] = frozenset()) -> Screening:
    """What the automatic screening finds in ``text``; ``previous_hashes`` are fingerprints of the
    same author's earlier comments (a copy is held)."""
    lex = lexicon()
    matches: list[dict] = []
    text = visible(text)  # zero-width and soft hyphens, stress marks, fullwidth letters hide nothing
    stripped = text.strip()
    if not stripped:
        matches.append({"rule": "empty", "text": ""})
    elif not re.search(r"\w", stripped):
        matches.append({"rule": "only_punctuation", "text": stripped[:50]})
    for raw, norm in words(text):
        if lex.holds(norm):
            matches.append({"rule": "obscene", "text": raw, "ground": "obscene"})
    for rule, pattern in (("link", LINK), ("email", EMAIL), ("phone", PHONE), ("messenger", HANDLE)):
        for m in pattern.finditer(text):
            matches.append({"rule": rule, "text": m.group(0)[:100]})
    digest = fingerprint(text)
    if stripped and digest in previous_hashes:
        matches.append({"rule": "duplicate", "text": stripped[:100]})
    return Screening(outcome="hold" if matches else "pass", matches=matches, text_hash=digest)
