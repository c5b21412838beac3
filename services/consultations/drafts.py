"""Draft acts (R-1.9): the text split into numbered paragraphs whose ids stay stable from version
to version, and a paragraph-by-paragraph diff so residents see what their comments changed."""
from __future__ import annotations

import difflib
import re
import uuid
from dataclasses import dataclass

SIMILAR = 0.5  # a changed paragraph keeps its id when at least this similar to the old one


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs are separated by blank lines; whitespace inside one is folded."""
    parts = re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip())
    return [" ".join(p.split()) for p in parts if p.strip()]


@dataclass(frozen=True)
class Paragraph:
    id: uuid.UUID
    text: str


def carry_ids(old: list[Paragraph], new_texts: list[str]) -> list[Paragraph]:
    """Give the new version's paragraphs ids: the same id for an unchanged or edited paragraph,
    a new id for an inserted one."""
    matcher = difflib.SequenceMatcher(a=[p.text for p in old], b=new_texts, autojunk=False)
    result: list[Paragraph] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            result += [Paragraph(old[i1 + k].id, new_texts[j1 + k]) for k in range(j2 - j1)]
        elif tag == "replace":
            pool = list(old[i1:i2])
            for text in new_texts[j1:j2]:
                best = max(pool, key=lambda p: difflib.SequenceMatcher(a=p.text, b=text).ratio(), default=None)
                if best is not None and difflib.SequenceMatcher(a=best.text, b=text).ratio() >= SIMILAR:
                    pool.remove(best)
                    result.append(Paragraph(best.id, text))
                else:
                    result.append(Paragraph(uuid.uuid4(), text))
        elif tag == "insert":
            result += [Paragraph(uuid.uuid4(), t) for t in new_texts[j1:j2]]
    return result


def diff(before: list[Paragraph], after: list[Paragraph]) -> list[dict]:
    """Paragraph by paragraph: same, changed, added or removed, in the order of the new text
    (removed ones where they stood)."""
    old = {p.id: p for p in before}
    new_ids = {p.id for p in after}
    out: list[dict] = []
    removed_after: dict[uuid.UUID | None, list[Paragraph]] = {}
    prev = None
    for p in before:
        if p.id not in new_ids:
            removed_after.setdefault(prev, []).append(p)
        else:
            prev = p.id
    for p in removed_after.get(None, []):
        out.append({"paragraph_id": p.id, "change": "removed", "before": p.text, "after": None})
    for p in after:
        was = old.get(p.id)
        change = "added" if was is None else ("same" if was.text == p.text else "changed")
        out.append({"paragraph_id": p.id, "change": change, "before": was.text if was else None, "after": p.text})
        for gone in removed_after.get(p.id, []):
            out.append({"paragraph_id": gone.id, "change": "removed", "before": gone.text, "after": None})
    return out
