"""The report's rules as plain functions (no database, no framework): unit-tested in
tests/unit/test_reports_rules.py."""
from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from typing import Iterable

from chassis.errors import InvalidInput

AGE_BANDS = ("14–17", "18–35", "36–60", "60+", "unknown")
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


def retain_until(decision_date: date | None, archived_on: date) -> date:
    """Kept (read-only, not deletable) at least five years from the decision date (R-1.11); without
    a decision, from the day it was archived."""
    start = decision_date or archived_on
    try:
        return start.replace(year=start.year + RETENTION_YEARS)
    except ValueError:  # 29 February
        return start.replace(year=start.year + RETENTION_YEARS, day=28)


def manifest(entries: Iterable[tuple[str, str]]) -> str:
    """``sha256sum`` format (``<hex>  <name>``), so ``sha256sum -c manifest.sha256`` checks a bundle."""
    return "".join(f"{digest}  {name}\n" for name, digest in sorted(entries))


def fingerprint(*parts) -> str:
    """A stable hash of what a version was built from (decision, attachments)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def overdue(due: datetime | None, first_published: datetime | None, at: datetime) -> bool:
    """R-3.17: the report was not published by its due time (or still is not)."""
    return due is not None and (first_published or at) > due
