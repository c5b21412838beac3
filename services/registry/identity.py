"""From what an id.gov.ua-style provider says about a person to our :class:`IdentityIn`.

The provider's user info carries ``givenname``, ``middlename``, ``lastname``, ``drfocode`` (РНОКПП),
``unzr`` (УНЗР), ``email``, ``phone``, ``address`` … (docs/identity.md). The birth date
comes from the УНЗР (starts YYYYMMDD) or else the РНОКПП (first five digits: days since
1899-12-31). Community membership (R-1.3): the registered address carries the community's КАТОТТГ
code from settings (field ``katottg``, or the code inside ``address``).
"""
from __future__ import annotations

import re
from datetime import date, timedelta

from chassis.errors import InvalidInput
from contracts.registry import EMAIL_PATTERN, PHONE_PATTERN, IdentityIn

RNOKPP_EPOCH = date(1899, 12, 31)


def birth_date_from_unzr(unzr: str | None) -> date | None:
    digits = re.sub(r"\D", "", unzr or "")
    if len(digits) < 8:
        return None
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None


def birth_date_from_rnokpp(code: str | None) -> date | None:
    digits = re.sub(r"\D", "", code or "")
    if len(digits) != 10:
        return None
    return RNOKPP_EPOCH + timedelta(days=int(digits[:5]))


def is_member(info: dict, community_code: str) -> bool:
    code = (community_code or "").strip().upper()
    if not code:
        return False
    if str(info.get("katottg", "")).strip().upper() == code:
        return True
    return code in str(info.get("address", "")).upper()


def identity_from_userinfo(info: dict, community_code: str) -> IdentityIn:
    subject = str(info.get("user_id") or info.get("unzr") or info.get("drfocode") or "").strip()
    names = [str(info.get(k) or "").strip() for k in ("lastname", "givenname", "middlename")]
    full_name = " ".join(n for n in names if n)
    if not subject or not full_name:
        raise InvalidInput("Постачальник ідентифікації не передав обов'язкових даних",
                           code="identity_incomplete",
                           errors=[{"field": f, "message": "відсутнє"} for f, v in
                                   (("user_id", subject), ("lastname/givenname", full_name)) if not v])
    email = str(info.get("email") or "").strip() or None
    phone = str(info.get("phone") or "").strip() or None
    return IdentityIn(
        subject=subject, full_name=full_name,
        birth_date=birth_date_from_unzr(info.get("unzr")) or birth_date_from_rnokpp(info.get("drfocode")),
        community_member=is_member(info, community_code),
        email=email if email and re.match(EMAIL_PATTERN, email) else None,
        phone=phone if phone and re.match(PHONE_PATTERN, phone) else None)
