"""The report's rules as plain functions (no database, no framework): unit-tested in
tests/reports/."""
from __future__ import annotations

import difflib
import hashlib
import json
import re
from datetime import date, datetime
from functools import lru_cache
from typing import Callable, Iterable

from chassis.errors import InvalidInput
from chassis.text import NOT_IN_A_LINE, canonical
from contracts.consultations import CHANNEL_LABELS, NOTICE_LABELS, Channel

AGE_BANDS = ("14–17", "18–35", "36–60", "60+", "unknown")
STATUS_RANK = {"pending": 0, "published": 1, "rejected": 2}  # a comment's moderation status only moves forward
STATUS_LABELS = {"published": "оприлюднено", "pending": "на модерації", "rejected": "відхилено"}
RETENTION_YEARS = 5
SHOWN_IDS = 100  # ids named in a refusal; the count says how many in all


def missing_considerations(proposal_ids: Iterable, considered: set) -> list:
    """Proposals (published comments) without a consideration, in order (R-3.16)."""
    return [p for p in proposal_ids if p not in considered]


def refuse_unless_complete(missing: list, conclusion: str | None) -> None:
    """Publishing is refused while any proposal lacks a consideration or the generalised conclusion
    is missing; the refusal names the count and the ids (R-3.16)."""
    errors = []
    if missing:
        errors.append({"field": "considerations", "message": f"без розгляду: {len(missing)}",
                       "type": "considerations_missing"})
        errors += [{"field": f"considerations.{m}", "message": "пропозиція без розгляду",
                    "type": "consideration_missing"} for m in missing[:SHOWN_IDS]]
    if not (conclusion or "").strip():
        errors.append({"field": "conclusion", "message": "узагальнений висновок обов'язковий"})
    if errors:
        detail = (f"Не розглянуто пропозицій: {len(missing)}" if missing else "Немає узагальненого висновку")
        raise InvalidInput(detail, code="report_incomplete", errors=errors)


def representativeness(rows: Iterable[tuple[str, bool, int]]) -> dict:
    """The table by age band and first-time vs returning, from ``(age_band, first_time, count)``
    rows; no birth dates (the registry computed the bands)."""
    bands = {b: 0 for b in AGE_BANDS}
    first = returning = 0
    for band, first_time, n in rows:
        bands[band if band in bands else "unknown"] += n
        if first_time:
            first += n
        else:
            returning += n
    return {"age_bands": bands, "first_time": first, "returning": returning, "total": first + returning}


def by_channel(rows: Iterable[tuple[str, int, int]]) -> dict:
    """Published proposals and their distinct authors (by name: a submission received offline has no
    account behind it) for every channel, from ``(channel, proposals, authors)`` rows; every channel
    is present, with zeros where none came."""
    out = {c.value: {"label": CHANNEL_LABELS[c.value], "proposals": 0, "authors": 0} for c in Channel}
    for channel, proposals, authors in rows:
        slot = out.get(channel or "web") or out["web"]
        slot["proposals"] += proposals
        slot["authors"] += authors
    return out


def channel_line(channels: dict) -> str:
    """The report's line «За каналами: …» (channels that brought proposals only)."""
    shown = [f"{c['label']}: {c['proposals']} (авторів {c['authors']})" for c in channels.values() if c["proposals"]]
    return "За каналами надходження: " + ("; ".join(shown) or "—")


# ---- the printable consultation pack ---------------------------------------------------------------

BLANK = "_" * 60
PACK_NOTICE = ("holder", "materials", "stakeholders", "consequences", "procedure", "participation",
               "responsible_official", "results_publication")


def _day(value: str | None) -> str:
    return date.fromisoformat(value).strftime("%d.%m.%Y") if value else "—"


PACK_FIELDS = ("id", "title", "question", "notice", "starts_on", "ends_on", "alternatives", "questions",
               "draft_version", "paragraphs")


def pack_fingerprint(page: dict) -> str:
    """What the pack is made from (the same for every reader who may see the consultation): a new
    fingerprint only when the pack would say something else."""
    return fingerprint(*(page.get(k) for k in PACK_FIELDS))


def pack_sections(page: dict) -> list[tuple[str, list[str]]]:
    """What the printable pack says, for residents without the web (offline participation): the
    information notice (R-3.13), the question with its alternatives or the draft act with its
    paragraph numbers, the survey's questions, and a form to fill in by hand, naming the target
    (the whole, an alternative by number, a paragraph by number) as the official will register it."""
    notice = page.get("notice") or {}
    term = f"з {_day(page.get('starts_on'))} до {_day(page.get('ends_on'))} включно"
    sections = [("Інформаційне повідомлення",
                 [f"{NOTICE_LABELS[k][:1].upper()}{NOTICE_LABELS[k][1:]}: {notice[k]}" for k in PACK_NOTICE
                  if notice.get(k)] + [f"Строк консультації: {term}"]),
                ("Питання консультації", [page.get("question") or "—"])]
    if page.get("alternatives"):
        sections.append(("Альтернативні варіанти рішення",
                         [f"{a['position']}. {a['text']}" for a in page["alternatives"]]))
    if page.get("paragraphs"):
        version = page.get("draft_version")
        sections.append((f"Проєкт акта (редакція {version})" if version else "Проєкт акта",
                         [f"{p['number']}. {p['text']}" for p in page["paragraphs"]]))
    if page.get("questions"):
        lines = []
        for q in page["questions"]:
            lines.append(f"{q['position']}. {q['text']}")
            lines += [f"    [ ] {o['text']}" for o in q.get("options", [])]
        sections.append(("Питання опитування", lines))
    target = ["Щодо чого (позначте одне):", "    [ ] консультації загалом"]
    if page.get("alternatives"):
        target.append("    [ ] альтернативи № ____")
    if page.get("paragraphs"):
        target.append("    [ ] пункту проєкту № ____")
    sections.append(("Форма для подання пропозиції", [
        f"Консультація: «{page.get('title', '')}» (ідентифікатор {page.get('id', '')})",
        "Прізвище, ім'я, по батькові автора (обов'язково: анонімні пропозиції не розглядаються, п. 3.7):",
        BLANK,
        *target,
        "Текст пропозиції або зауваження:",
        *[BLANK] * 12,
        "Дата: ______________    Підпис: ______________",
        "Ваше ім'я буде оприлюднено разом із текстом пропозиції (п. 3.5, 3.14); скан листа бачать лише "
        "посадові особи підрозділу та модератори.",
        f"Як подати: {term} — листом або особисто до органу, що проводить консультацію, через ЦНАП, на "
        "громадських слуханнях чи електронною поштою; посадова особа внесе пропозицію до сервісу "
        "«Електронні консультації з громадськістю» з позначкою каналу надходження.",
    ]))
    return sections


def retain_until(decision_date: date | None, archived_on: date) -> date:
    """Kept (read-only, not deletable) at least five years from the decision date (R-1.11); without
    a decision, from the day it was archived."""
    start = decision_date or archived_on
    try:
        return start.replace(year=start.year + RETENTION_YEARS)
    except ValueError:  # 29 February
        return start.replace(year=start.year + RETENTION_YEARS, day=28)


def manifest(entries: Iterable[tuple[str, str]]) -> str:
    """``sha256sum`` format (``<hex>  <name>``), so ``sha256sum -c manifest.sha256`` checks a bundle.
    A name holding a backslash, CR or LF is escaped as GNU coreutils does (the line starts with
    ``\\``): a name can never add a line of its own."""
    return "".join(_manifest_line(name, digest) for name, digest in sorted(entries))


def _manifest_line(name: str, digest: str) -> str:
    if not any(c in name for c in "\\\n\r"):
        return f"{digest}  {name}\n"
    escaped = name.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    return f"\\{digest}  {escaped}\n"


def entry_name(filename: str) -> str:
    """An attachment's file name as a bundle entry: its base name with characters a single line may
    not hold (an old row's newline, a bidi override) replaced by ``_``."""
    return NOT_IN_A_LINE.sub("_", filename.replace("\\", "/").rsplit("/", 1)[-1]) or "file"


def fingerprint(*parts) -> str:
    """A stable hash of what a version was built from (decision, attachments)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def overdue(due: datetime | None, first_published: datetime | None, at: datetime) -> bool:
    """R-3.17: the report was not published by its due time (or still is not)."""
    return due is not None and (first_published or at) > due


def read_model_complete(have: dict, expected: dict) -> bool:
    """The read model may stand in for consultations' own tables at closing only when it holds as
    many comments in each moderation status and as many respondents as consultations counted
    (R-3.14, R-3.16: nothing submitted may be missing from the protocol or the report); otherwise
    the missing part is read from consultations."""
    want = expected.get("comments") or {}
    return (all(have["comments"].get(s, 0) == want.get(s, 0) for s in STATUS_RANK)
            and have["respondents"] >= (expected.get("respondents") or 0))


def owns(actor, snap) -> bool:
    """An official of the owning unit (prepares the report, R-3.16)."""
    return actor is not None and snap.unit_id is not None and snap.unit_id in actor.units()


def insider(actor, snap) -> bool:
    """Sees the report before it is published and the full protocol with grounds (R-3.14): the
    owning unit, moderators and administrators."""
    return owns(actor, snap) or (actor is not None and (actor.has("moderator") or actor.has("admin")))


# ---- groups of near-identical proposals (R-3.16) ------------------------------------------------

GROUP_THRESHOLD = 0.85  # Jaccard over word shingles: at or above it, two comments say the same
SHINGLE_WORDS = 2  # words a shingle: one changed word in a 60-word text leaves J ≈ 0.93
INDEX_BELOW = 0.95  # a member this close to the one it matched adds nothing to the LSH index
WORD = re.compile(r"\S+")


def normalise(text: str) -> str:
    """The text as the moderation screening compares it (``chassis.text.canonical``: case,
    look-alike Latin letters in Cyrillic words, invisible characters, punctuation and spacing)."""
    return canonical(text or "")


def text_hash(normalised: str) -> str:
    """Exact copies after normalising share it."""
    return hashlib.sha256(normalised.encode()).hexdigest()


def shingles(normalised: str, size: int = SHINGLE_WORDS) -> set[str]:
    """Word ``size``-shingles of a normalised text; a text shorter than that is one shingle."""
    words = normalised.split()
    if len(words) <= size:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i:i + size]) for i in range(len(words) - size + 1)}


def jaccard(a: set, b: set) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def best_group(scores: Iterable[tuple[object, float]], threshold: float = GROUP_THRESHOLD):
    """The group whose verified Jaccard is highest and at least ``threshold`` (``(group, score)``
    pairs), or ``(None, best score)``: the comment founds a group of its own."""
    best, top = None, 0.0
    for group, score in scores:
        if score > top:
            best, top = group, score
    return (best, top) if top >= threshold else (None, top)


def linked(best: dict, sizes: dict, threshold: float = GROUP_THRESHOLD):
    """From each candidate group's best verified Jaccard (``best``: group → score), the group the
    comment joins, the groups it links to that one (merged into it), and the score it joined with:
    every group at or above ``threshold`` is linked; the one kept is the largest (``sizes``), the
    closest of equals. ``(None, [], best score)`` when none reaches the threshold."""
    close = [g for g, score in best.items() if score >= threshold]
    if not close:
        return None, [], max(best.values(), default=0.0)
    close.sort(key=lambda g: (-sizes.get(g, 0), -best[g]))
    return close[0], close[1:], max(best[g] for g in close)


def indexed(similarity: float | None, in_index: int, most: int) -> bool:
    """Whether a grouped comment goes into the LSH index: a founder (``None``) always; a member
    only if it is not nearly a copy of the one it matched and its group has fewer than ``most``
    members there (``in_index``), so a 40,000-member campaign takes a few dozen entries."""
    return similarity is None or (similarity < INDEX_BELOW and in_index < most)


def choose_representative(variants: Iterable[tuple[object, int, int]]):
    """The comment that stands for its group: of the group's distinct texts (after normalising)
    the one most members share, the earliest of equals; ``variants`` are ``(first comment of the
    text, members with it, that comment's seq)``."""
    best = min(variants, key=lambda v: (-v[1], v[2]), default=None)
    return best[0] if best else None


@lru_cache(maxsize=65536)
def _word_key(word: str) -> str:
    """A word as compared (normalised); a campaign's members repeat the same words, so cached."""
    return canonical(word)


def diff_words(representative: str, text: str) -> list[tuple[str, str]]:
    """What ``text`` changes in ``representative``, word by word (words compared normalised, shown
    as written): ``(op, words)`` with op ``same`` | ``added`` | ``removed``; adjacent runs merged."""
    return word_differ(representative)(text)


def word_differ(representative: str) -> Callable[[str], list[tuple[str, str]]]:
    """``diff_words`` against one representative for many texts: its words are split and normalised
    once. A campaign's member changes a word or two, so the common head and tail are matched word
    by word and only the middle goes through ``difflib``."""
    a = WORD.findall(representative or "")
    ka = [_word_key(w) for w in a]

    def diff(text: str) -> list[tuple[str, str]]:
        b = WORD.findall(text or "")
        kb = [_word_key(w) for w in b]
        n = min(len(ka), len(kb))
        head = 0
        while head < n and ka[head] == kb[head]:
            head += 1
        tail = 0
        while tail < n - head and ka[len(ka) - 1 - tail] == kb[len(kb) - 1 - tail]:
            tail += 1
        out: list[tuple[str, str]] = []

        def put(op: str, words: list[str]) -> None:
            if not words:
                return
            if out and out[-1][0] == op:
                out[-1] = (op, out[-1][1] + " " + " ".join(words))
            else:
                out.append((op, " ".join(words)))

        put("same", b[:head])
        mid_a, mid_b = ka[head:len(ka) - tail], kb[head:len(kb) - tail]
        if mid_a and mid_b:
            matcher = difflib.SequenceMatcher(a=mid_a, b=mid_b, autojunk=False)
            for tag, i1, i2, j1, j2 in matcher.get_opcodes():
                if tag == "equal":
                    put("same", b[head + j1:head + j2])
                    continue
                put("removed", a[head + i1:head + i2])
                put("added", b[head + j1:head + j2])
        else:
            put("removed", a[head:len(a) - tail])
            put("added", b[head:len(b) - tail])
        put("same", b[len(b) - tail:])
        return out
    return diff


def outcome_summary(rows: Iterable[tuple[str | None, str | None, int]]) -> list[tuple[str | None, str | None, int]]:
    """A group's considerations from ``(outcome, justification, count)`` rows: the same pairs added
    up, the most frequent first, ``(None, None, n)`` (members not considered yet) last."""
    counts: dict[tuple, int] = {}
    for outcome, justification, n in rows:
        key = (outcome, justification if outcome else None)
        counts[key] = counts.get(key, 0) + n
    return [(o, j, n) for (o, j), n in sorted(counts.items(), key=lambda kv: (kv[0][0] is None, -kv[1]))]


def group_heading(size: int) -> str:
    """How a group is named in the report and the protocol (R-3.14, R-3.16)."""
    return f"{size} однакових/майже однакових пропозицій"


# ---- who is missing while a consultation runs (R-3.12) -------------------------------------------

def withhold_small(counts: dict[str, int], min_cell: int) -> dict[str, int | None]:
    """Counts safe to show of one dimension whose total is shown: a count from 1 to ``min_cell - 1``
    is withheld (None); when that leaves exactly one withheld, the smallest other non-zero count is
    withheld too, so the total cannot give it away; when the total itself is below ``min_cell``,
    every count is withheld (zeros would reveal the rest)."""
    if 0 < sum(counts.values()) < min_cell:
        return {k: None for k in counts}
    shown: dict[str, int | None] = {k: (None if 0 < n < min_cell else n) for k, n in counts.items()}
    withheld = [k for k, v in shown.items() if v is None]
    if len(withheld) == 1:
        others = sorted((n, k) for k, n in counts.items() if k not in withheld and n > 0)
        if others:
            shown[others[0][1]] = None
    return shown


def dimension(key: str, label: str, labels: dict[str, str], counts: dict[str, int], total: int,
              reference: dict[str, float], min_cell: int, keep_empty: bool = True) -> dict:
    """One dimension of the live participation view: every group the labels, the counts or the
    reference name (a group with nobody in it is what outreach should aim at), each count withheld
    by :func:`withhold_small`, its share of ``total`` and the gap to the community's share."""
    groups = [g for g in labels if keep_empty or counts.get(g)]
    groups += [g for g in [*counts, *reference] if g not in groups]
    shown = withhold_small({g: counts.get(g, 0) for g in groups}, min_cell)
    cells = []
    for g in groups:
        n = shown[g]
        share = round(n / total, 3) if n is not None and total else None
        ref = reference.get(g)
        cells.append({"key": g, "label": labels.get(g, g), "count": n, "share": share, "community_share": ref,
                      "gap": round(share - ref, 3) if share is not None and ref is not None else None})
    return {"key": key, "label": label, "total": total, "cells": cells}


EXCERPT_CHARS = 300  # of a comment, in its author's "you said, we did" message


def excerpt(body: str, limit: int = EXCERPT_CHARS) -> str:
    """The start of a comment, whitespace folded, cut at a word with «…» when longer than ``limit``."""
    text = " ".join(body.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut.rstrip(" ,;:.") + "…"


def group_by_author(rows: Iterable) -> list[tuple]:
    """``(author_id, [row, …])`` in the order the rows come (sorted by author, then number)."""
    groups: list[tuple] = []
    for r in rows:
        if not groups or groups[-1][0] != r.author_id:
            groups.append((r.author_id, []))
        groups[-1][1].append(r)
    return groups
