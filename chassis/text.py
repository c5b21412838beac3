"""Single-line text: one pydantic type for every field that is one line (titles, names, units,
organisations, file names). Control characters (C0, DEL, C1: CR, LF, TAB, NUL …), the Unicode line
and paragraph separators and the bidirectional controls are refused: a line break in a title would
end up in an e-mail header or a manifest line, a right-to-left override in a file name hides its
real extension («invoice\u202efdp.exe»)."""
from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator

# C0 and C1 controls and DEL; U+2028/U+2029; bidi embeddings, overrides, isolates and marks
NOT_IN_A_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def line_breakers(text: str) -> list[str]:
    """The characters of ``text`` a single line may not hold, as ``U+XXXX`` (for messages and logs;
    never the text itself)."""
    return sorted({f"U+{ord(c):04X}" for c in NOT_IN_A_LINE.findall(text)})


def _single_line(value: str) -> str:
    found = line_breakers(value)
    if found:
        raise ValueError("має бути одним рядком без керівних символів (" + ", ".join(found[:5]) + ")")
    return value


SingleLine = Annotated[str, AfterValidator(_single_line)]


# ---- the form text is compared and screened in ---------------------------------------------------

# Latin letters that look like Cyrillic ones
LATIN_LOOKALIKES = str.maketrans({
    "a": "а", "b": "в", "c": "с", "e": "е", "h": "н", "i": "і", "k": "к", "m": "м", "o": "о",
    "p": "р", "t": "т", "x": "х", "y": "у", "u": "и", "z": "з",
})
_CYRILLIC = re.compile(r"[а-яіїєґё]")
_WORD = re.compile(r"\w+")


def visible(text: str) -> str:
    """``text`` as a reader sees it: NFKC (fullwidth and other compatibility forms folded), then
    without format characters (Cf: zero-width space, soft hyphen, bidi controls) and without the
    combining marks left after composition (a stress mark on «х́» hides nothing; «й», «ї» are
    precomposed by NFKC and stay)."""
    folded = unicodedata.normalize("NFKC", text)
    return "".join(c for c in folded if unicodedata.category(c) not in ("Cf", "Mn", "Me"))


def canonical(text: str) -> str:
    """What two texts must share to say the same thing: the visible words in lower case, Latin
    look-alikes in words with Cyrillic letters mapped to Cyrillic, punctuation and spacing dropped."""
    out = []
    for word in _WORD.findall(visible(text).casefold().replace("ё", "е")):
        out.append(word.translate(LATIN_LOOKALIKES) if _CYRILLIC.search(word) or len(word) == 1 else word)
    return " ".join(out)


# ---- spreadsheets ----------------------------------------------------------------------------------

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: str) -> str:
    """A CSV cell a spreadsheet program never reads as a formula (OWASP, CSV injection): a cell
    starting with ``= + - @``, TAB or CR gets a leading apostrophe."""
    return "'" + value if value.startswith(FORMULA_START) else value
