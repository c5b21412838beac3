"""Contracts of the registry service: RPC inputs/outputs and its events (R-2.1, R-2.2, R-2.3, R-2.4).
Who is acting (``Principal``, ``Role``) and the R-1.3 eligibility rule live in ``contracts.identity``."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timezone
from enum import Enum

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chassis.events import EventData, event
from chassis.rpc_contract import WIRE_PATCH, RpcContract
from chassis.text import SingleLine
from contracts.common import Bucket, Strict  # noqa: F401  (Bucket: part of this contract)
from contracts.identity import Eligibility, Principal, Role, RoleOut

EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$"
PHONE_PATTERN = r"^\+?[0-9 ()-]{7,20}$"


class OrganisationKind(str, Enum):
    """Institutions that take part: the civil-society institutions of R-2.2, and businesses (which
    may comment and answer on their own behalf, but not initiate)."""

    ngo = "ngo"
    charity = "charity"
    condominium = "condominium"
    self_organisation = "self_organisation"
    trade_union = "trade_union"
    employers = "employers"
    business = "business"


ORGANISATION_KIND_LABELS = {
    "ngo": "громадська організація",
    "charity": "благодійна організація",
    "condominium": "ОСББ",
    "self_organisation": "орган самоорганізації населення",
    "trade_union": "професійна спілка",
    "employers": "організація роботодавців",
    "business": "суб'єкт господарювання",
}


def edrpou_check_digit(code: str) -> int:
    """The check digit a ЄДРПОУ code must end with (the State Statistics Service's rule): the first
    seven digits weighted 1–7, or 7,1–6 when the code lies from 30000000 to 60000000; the sum
    modulo 11; a remainder of 10 is computed again with every weight plus 2, and a second 10 gives 0."""
    digits = [int(c) for c in code[:7]]
    weights = [7, 1, 2, 3, 4, 5, 6] if 30_000_000 <= int(code) <= 60_000_000 else [1, 2, 3, 4, 5, 6, 7]
    rest = sum(d * w for d, w in zip(digits, weights)) % 11
    if rest == 10:
        rest = sum(d * (w + 2) for d, w in zip(digits, weights)) % 11
    return 0 if rest == 10 else rest


def edrpou_valid(code: str) -> bool:
    """Eight ASCII digits, the last the check digit of the code."""
    return (isinstance(code, str) and len(code) == 8 and code.isascii() and code.isdigit()
            and edrpou_check_digit(code) == int(code[7]))


class EmailMode(str, Enum):
    """How a person wants the start-day e-mails (R-1.10, R-3.4): each at once, or one digest a day."""

    immediate = "immediate"
    daily_digest = "daily_digest"


class IdentityIn(Strict):
    """A person as the identity provider describes them (R-2.3, R-3.5)."""

    subject: SingleLine = Field(min_length=1, max_length=200, description="identity-provider subject")
    full_name: SingleLine = Field(min_length=1, max_length=300, description="ПІБ")
    birth_date: date | None = None
    community_member: bool = False
    email: SingleLine | None = Field(None, max_length=254, pattern=EMAIL_PATTERN)
    phone: SingleLine | None = Field(None, max_length=32, pattern=PHONE_PATTERN)


class PersonRef(BaseModel):
    id: uuid.UUID
    created: bool


class RoleGrant(Strict):
    role: Role
    unit_id: uuid.UUID | None = Field(None, description="required for `official`")
    organisation_id: uuid.UUID | None = Field(None, description="required for `institution_head`")


class SessionOut(BaseModel):
    session_id: uuid.UUID
    person_id: uuid.UUID
    expires_at: datetime
    consent_required: bool


class DevLoginIn(Strict):
    """Dev login (only with AUTH_DEV_LOGIN=1): a made-up person with chosen roles."""

    subject: SingleLine = Field(min_length=1, max_length=200)
    full_name: SingleLine = Field(min_length=1, max_length=300)
    birth_date: date | None = None
    community_member: bool = True
    roles: list[Role] = Field(default_factory=lambda: [Role.resident])
    unit: SingleLine | None = Field(None, max_length=300, description="structural unit name for `official`")
    consent: bool = Field(True, description="record consent at once (a convenience for demos and tests)")

    @field_validator("roles")
    @classmethod
    def _once_each(cls, roles: list[Role]) -> list[Role]:
        return list(dict.fromkeys(roles))  # a role named twice is granted once (found by fuzzing)


class Consent(BaseModel):
    version: str
    given_at: datetime | None = None
    withdrawn_at: datetime | None = None


class ConsentIn(Strict):
    version: SingleLine = Field(min_length=1, max_length=20)


class MeOut(BaseModel):
    id: uuid.UUID
    full_name: str
    birth_date: date | None
    community_member: bool
    eligibility: Eligibility
    email: str | None
    phone: str | None
    interests: list[int] = Field(description="R-1.13 category codes; empty = all categories")
    email_enabled: bool
    email_mode: EmailMode
    consent: Consent | None
    roles: list[RoleOut]
    erased: bool


class MeUpdate(Strict):
    """What a person keeps current in the cabinet (R-2.4). Omitted fields stay as they are."""

    email: SingleLine | None = Field(None, max_length=254, pattern=EMAIL_PATTERN)
    phone: SingleLine | None = Field(None, max_length=32, pattern=PHONE_PATTERN)
    interests: list[int] | None = Field(None, max_length=22)
    email_enabled: bool | None = None
    email_mode: EmailMode | None = Field(None, description="immediate: one e-mail per consultation; "
                                         "daily_digest: one e-mail a day grouped by category (R-1.10, R-3.4)")


class UnitIn(Strict):
    name: SingleLine = Field(min_length=2, max_length=300)
    head_name: SingleLine | None = Field(None, max_length=300)


class UnitOut(BaseModel):
    id: uuid.UUID
    name: str
    head_name: str | None


class OrganisationIn(Strict):
    name: SingleLine = Field(min_length=2, max_length=300)
    kind: OrganisationKind
    edrpou: str = Field(min_length=8, max_length=8, description="код ЄДРПОУ: 8 digits, the last a check digit")

    @field_validator("edrpou")
    @classmethod
    def _edrpou(cls, code: str) -> str:
        if not edrpou_valid(code):
            raise ValueError("код ЄДРПОУ: 8 цифр із правильною контрольною цифрою")
        return code


class OrganisationOut(BaseModel):
    id: uuid.UUID
    name: str
    kind: OrganisationKind
    kind_label: str = Field("", description="the kind in Ukrainian")
    edrpou: str | None = Field(None, description="null only for institutions filed before the code was asked")
    head_person_id: uuid.UUID
    head_name: str
    confirmed: bool


class AuditEntry(BaseModel):
    at: datetime
    actor_id: uuid.UUID | None
    action: str
    person_id: uuid.UUID | None
    details: dict


class InterestedPerson(BaseModel):
    person_id: uuid.UUID
    full_name: str
    email: str
    email_mode: EmailMode = Field("immediate", description="one e-mail per consultation, or the day's digest")


class InterestedPage(BaseModel):
    items: list[InterestedPerson]
    next_after: uuid.UUID | None = Field(description="pass as `after` for the next batch; null at the end")


# ---- API keys of partner systems ---------------------------------------------------------------

class Scope(str, Enum):
    events = "events:read"
    consultations = "consultations:read"
    open_data = "open-data:read"


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    partner: str = Field(min_length=2, max_length=200, description="the partner system, e.g. «Відкриті дані міста»")
    scopes: list[Scope] = Field(min_length=1, description="read scopes only (no write scopes yet)")
    rate_per_minute: int = Field(60, ge=1, le=10_000, description="requests per minute with this key")
    expires_at: datetime | None = Field(None, description="no use after this moment (with a time zone)")

    @field_validator("expires_at")
    @classmethod
    def _future(cls, value: datetime | None) -> datetime | None:
        if value is not None and (value.tzinfo is None or value <= datetime.now(timezone.utc)):
            raise ValueError("має бути в майбутньому, з часовим поясом")
        return value


class ApiKeyOut(BaseModel):
    id: uuid.UUID
    partner: str
    prefix: str = Field(description="the key's first characters, to tell keys apart")
    scopes: list[str]
    rate_per_minute: int
    expires_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime
    last_used_at: datetime | None


class ApiKeyIssued(ApiKeyOut):
    key: str = Field(description="ek_…: shown this once; send it as X-Api-Key or Authorization: Bearer")


class ApiKeyList(BaseModel):
    items: list[ApiKeyOut]


class KeyUse(BaseModel):
    """What the gateway learns about a request's key."""
    key_id: uuid.UUID
    partner: str
    prefix: str
    wait: int = Field(description="seconds to wait when over the key's rate, else 0")


# ---- events -------------------------------------------------------------------------------------

@event("registry", "person_registered")
class PersonRegistered(EventData):
    """A person logged in for the first time and now has a record in the register."""

    person_id: uuid.UUID
    registered_at: datetime


@event("registry", "person_updated")
class PersonUpdated(EventData):
    """A person changed their register entry (names of changed fields only, no values)."""

    person_id: uuid.UUID
    fields: list[str]


@event("registry", "person_erased")
class PersonErased(EventData):
    """A person withdrew consent: contacts and interests are erased (R-2.4)."""

    person_id: uuid.UUID
    erased_at: datetime


@event("registry", "session_revoked")
class SessionRevoked(EventData):
    """A session ended before its time (logout): its token stops working."""

    session_id: uuid.UUID
    person_id: uuid.UUID


@event("registry", "consent_given")
class ConsentGiven(EventData):
    """A person agreed to the processing of their personal data (this version of the consent text)."""

    person_id: uuid.UUID
    consent_version: str


@event("registry", "role_granted")
class RoleGranted(EventData):
    person_id: uuid.UUID
    role: Role
    unit_id: uuid.UUID | None = None
    organisation_id: uuid.UUID | None = None
    granted_by: uuid.UUID | None = None


@event("registry", "role_revoked")
class RoleRevoked(EventData):
    person_id: uuid.UUID
    role: Role
    role_id: uuid.UUID
    revoked_by: uuid.UUID | None = None


# ---- RPC ------------------------------------------------------------------------------------------

MAX_PERSONS = 5000  # persons a lookup takes at once


class ResolvedAndHit(BaseModel):
    principal: Principal | None = Field(description="null for an invalid or revoked session")
    wait: int = Field(description="seconds to wait when over a limit, else 0")


class ConsentText(BaseModel):
    version: str
    text: str


class MailContact(BaseModel):
    full_name: str
    email: str


class ParticipantProfile(BaseModel):
    """A participant as the R-3.16 report shows them: no birth date, an age band."""

    person_id: uuid.UUID
    full_name: str
    age_band: str


PersonIds = Annotated[list[uuid.UUID], Field(max_length=MAX_PERSONS)]


class Registry(RpcContract, service="registry"):
    """The registry service's RPC methods; an instance is its typed client."""

    def register_person(self, person: IdentityIn) -> PersonRef:
        """Create or update a person from identity data; ``person_registered`` on creation."""

    def login(self, identity: IdentityIn) -> SessionOut:
        """After the identity provider vouched for the person: upsert them and open a session."""

    def login_userinfo(self, userinfo: dict[str, Any]) -> SessionOut:
        """Log in with what the identity provider's user-info endpoint returned."""

    def dev_login(self, body: DevLoginIn) -> SessionOut:
        """A made-up person with chosen roles (only with AUTH_DEV_LOGIN=1)."""

    def resolve_session(self, session_id: uuid.UUID) -> Principal:
        """Who a valid session belongs to, with their roles."""

    def rate_hit(self, buckets: list[Bucket]) -> int:
        """The gateway's abuse limits: count one request per bucket; seconds to wait, or 0."""

    def resolve_and_hit(self, session_id: uuid.UUID, buckets: list[Bucket], person_bucket: Bucket) -> ResolvedAndHit:
        """An authenticated write in one round trip: resolve the session and count the request in
        ``buckets`` and, when the session is valid, in the person's bucket (its key completed with
        the person's id)."""

    def logout(self, session_id: uuid.UUID) -> None:
        """Revoke a session."""

    def consent_text(self) -> ConsentText:
        """The current text of the consent to personal-data processing (R-2.3)."""

    def get_me(self, person_id: uuid.UUID) -> MeOut:
        """The person's own data."""

    def give_consent(self, person_id: uuid.UUID, body: ConsentIn) -> MeOut:
        """Record consent to the given version of the text."""

    def update_me(self, person_id: uuid.UUID, body: Annotated[MeUpdate, WIRE_PATCH]) -> MeOut:
        """Contacts, interests and e-mail preferences (fields left out stay)."""

    def erase_me(self, person_id: uuid.UUID) -> None:
        """Erase the person's data (R-2.4)."""

    def export_me(self, person_id: uuid.UUID) -> dict[str, Any]:
        """Everything the registry holds about the person (R-2.4)."""

    def grant_role(self, actor_id: uuid.UUID, person_id: uuid.UUID, body: RoleGrant) -> RoleOut:
        """An administrator grants a role."""

    def revoke_role(self, actor_id: uuid.UUID, person_id: uuid.UUID, role_id: uuid.UUID) -> None:
        """An administrator revokes a role."""

    def list_units(self) -> list[UnitOut]:
        """The structural units."""

    def create_unit(self, actor_id: uuid.UUID, body: UnitIn) -> UnitOut:
        """An administrator adds a structural unit."""

    def register_organisation(self, person_id: uuid.UUID, body: OrganisationIn) -> OrganisationOut:
        """A person files their institution (R-2.2), naming themselves its head."""

    def confirm_organisation(self, actor_id: uuid.UUID, organisation_id: uuid.UUID) -> OrganisationOut:
        """An administrator confirms a filed institution."""

    def list_organisations(self, actor_id: uuid.UUID | None = None) -> list[OrganisationOut]:
        """Confirmed organisations; an administrator also sees those waiting."""

    def admin_get_person(self, actor_id: uuid.UUID, person_id: uuid.UUID) -> MeOut:
        """An administrator reads another person's data (audited, R-2.4)."""

    def audit_log(self, actor_id: uuid.UUID, person_id: uuid.UUID | None = None) -> list[AuditEntry]:
        """The personal-data audit log, newest first."""

    def mail_contacts(self, person_ids: list[uuid.UUID]) -> dict[str, MailContact]:
        """Contacts, by person id, of those who may still be e-mailed (only the first MAX_PERSONS)."""

    def unsubscribe(self, person_id: uuid.UUID) -> bool:
        """One-click unsubscribe from e-mail (RFC 8058); whether anything changed."""

    def participant_profiles(self, person_ids: PersonIds, on_date: date) -> list[ParticipantProfile]:
        """Full name and age band on ``on_date`` (the R-3.16 representativeness table)."""

    def interested_persons(self, category: int, after: uuid.UUID | None = None, limit: int = 1000) -> InterestedPage:
        """One keyset batch of the register for ``category``; call again with ``next_after``."""

    def api_key_issue(self, admin_id: uuid.UUID, body: ApiKeyIn) -> ApiKeyIssued:
        """An administrator issues a partner's API key (shown once)."""

    def api_key_list(self) -> ApiKeyList:
        """Every partner key, without the keys themselves."""

    def api_key_revoke(self, key_id: str) -> ApiKeyOut:
        """Revoke a key at once (an unknown or malformed id is not found)."""

    def api_key_use(self, key: str, scope: str) -> KeyUse:
        """A request with a key: which partner, and the seconds to wait when over its rate."""
