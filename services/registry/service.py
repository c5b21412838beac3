"""registry: persons, roles, units, organisations, sessions, the register of interested persons
(entrypoints only; rules live in domain.py)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from nameko.rpc import rpc

from chassis.errors import Forbidden, InvalidInput, NotFound, ServiceError, parse
from chassis.errors import parse_uuid as _uuid
from chassis.service import BaseService
from chassis.settings import get_settings
from contracts.registry import ConsentIn, DevLoginIn, IdentityIn, MeUpdate, OrganisationIn, RoleGrant, UnitIn
from services.registry import domain, throttle
from services.registry.api_key_service import ApiKeyEntrypoints
from services.registry.consent import CONSENT_TEXT, CONSENT_VERSION
from services.registry.identity import identity_from_userinfo

MAX_PAGE = 5000


def dump(model) -> dict:
    return model.model_dump(mode="json")


class RegistryService(ApiKeyEntrypoints, BaseService):
    name = "registry"

    def _ttl(self) -> timedelta:
        return timedelta(minutes=get_settings().session_ttl_minutes)

    # ---- identity and sessions ------------------------------------------------------------------
    @rpc(expected_exceptions=ServiceError)
    def register_person(self, person: dict) -> dict:
        """Create or update a person from identity data; ``person_registered`` on creation."""
        data = parse(IdentityIn, person)
        with self.db.transaction() as session:
            return dump(domain.upsert_identity(session, data))

    @rpc(expected_exceptions=ServiceError)
    def login(self, identity: dict) -> dict:
        """After the identity provider vouched for the person: upsert them and open a session."""
        data = parse(IdentityIn, identity)
        with self.db.transaction() as session:
            ref = domain.upsert_identity(session, data)
            return dump(domain.open_session(session, ref.id, self._ttl()))

    @rpc(expected_exceptions=ServiceError)
    def login_userinfo(self, userinfo: dict) -> dict:
        """Log in with what the identity provider's user-info endpoint returned."""
        identity = identity_from_userinfo(userinfo, get_settings().community_code)
        with self.db.transaction() as session:
            ref = domain.upsert_identity(session, identity)
            return dump(domain.open_session(session, ref.id, self._ttl()))

    @rpc(expected_exceptions=ServiceError)
    def dev_login(self, body: dict) -> dict:
        if not get_settings().auth_dev_login:
            raise Forbidden("Вхід для розробників вимкнено", code="dev_login_disabled")
        data = parse(DevLoginIn, body)
        with self.db.transaction() as session:
            ref = domain.dev_login(session, data)
            return dump(domain.open_session(session, ref.id, self._ttl()))

    @rpc(expected_exceptions=ServiceError)
    def resolve_session(self, session_id) -> dict:
        with self.db.transaction() as session:
            return dump(domain.resolve_session(session, _uuid(session_id, "session_id")))

    @rpc(expected_exceptions=ServiceError)
    def rate_hit(self, buckets: list) -> int:
        """The gateway's abuse limits: count one request per bucket; seconds to wait, or 0."""
        parsed = [parse(throttle.Bucket, b) for b in buckets]
        with self.db.transaction() as session:
            return throttle.hit(session, parsed, datetime.now(timezone.utc))

    @rpc(expected_exceptions=ServiceError)
    def resolve_and_hit(self, session_id, buckets: list, person_bucket: dict) -> dict:
        """An authenticated write in one round trip: resolve the session and count the request in
        ``buckets`` and, when the session is valid, in the person's bucket (its key completed with the
        person's id here). ``principal`` is None for an invalid or revoked session (only ``buckets``
        are counted; the gateway's route refuses the request itself)."""
        parsed = [parse(throttle.Bucket, b) for b in buckets]
        template = parse(throttle.Bucket, person_bucket)
        sid = _uuid(session_id, "session_id")
        with self.db.transaction() as session:
            try:
                principal = domain.resolve_session(session, sid)
            except NotFound:
                principal = None
            else:
                parsed.append(template.model_copy(update={"key": template.key + str(principal.person_id)}))
            wait = throttle.hit(session, parsed, datetime.now(timezone.utc))
        return {"principal": dump(principal) if principal else None, "wait": wait}

    @rpc(expected_exceptions=ServiceError)
    def logout(self, session_id) -> None:
        with self.db.transaction() as session:
            domain.revoke_session(session, _uuid(session_id, "session_id"))

    @rpc
    def consent_text(self) -> dict:
        return {"version": CONSENT_VERSION, "text": CONSENT_TEXT}

    # ---- the personal cabinet -------------------------------------------------------------------
    @rpc(expected_exceptions=ServiceError)
    def get_me(self, person_id) -> dict:
        with self.db.transaction() as session:
            return dump(domain.me(session, _uuid(person_id, "person_id")))

    @rpc(expected_exceptions=ServiceError)
    def give_consent(self, person_id, body: dict) -> dict:
        data = parse(ConsentIn, body)
        with self.db.transaction() as session:
            return dump(domain.give_consent(session, _uuid(person_id, "person_id"), data.version))

    @rpc(expected_exceptions=ServiceError)
    def update_me(self, person_id, body: dict) -> dict:
        data = parse(MeUpdate, body)
        with self.db.transaction() as session:
            return dump(domain.update_me(session, _uuid(person_id, "person_id"), data))

    @rpc(expected_exceptions=ServiceError)
    def erase_me(self, person_id) -> None:
        with self.db.transaction() as session:
            domain.erase_me(session, _uuid(person_id, "person_id"))

    @rpc(expected_exceptions=ServiceError)
    def export_me(self, person_id) -> dict:
        import json

        with self.db.transaction() as session:
            return json.loads(json.dumps(domain.export_me(session, _uuid(person_id, "person_id")),
                                         default=str))

    # ---- roles, units, organisations --------------------------------------------------------------
    @rpc(expected_exceptions=ServiceError)
    def grant_role(self, actor_id, person_id, body: dict) -> dict:
        data = parse(RoleGrant, body)
        with self.db.transaction() as session:
            return dump(domain.grant_role(session, _uuid(actor_id, "actor_id"),
                                          _uuid(person_id, "person_id"), data))

    @rpc(expected_exceptions=ServiceError)
    def revoke_role(self, actor_id, person_id, role_id) -> None:
        with self.db.transaction() as session:
            domain.revoke_role(session, _uuid(actor_id, "actor_id"), _uuid(person_id, "person_id"),
                               _uuid(role_id, "role_id"))

    @rpc(expected_exceptions=ServiceError)
    def list_units(self) -> list[dict]:
        with self.db.transaction() as session:
            return [dump(u) for u in domain.list_units(session)]

    @rpc(expected_exceptions=ServiceError)
    def create_unit(self, actor_id, body: dict) -> dict:
        data = parse(UnitIn, body)
        with self.db.transaction() as session:
            return dump(domain.create_unit(session, _uuid(actor_id, "actor_id"), data))

    @rpc(expected_exceptions=ServiceError)
    def register_organisation(self, person_id, body: dict) -> dict:
        data = parse(OrganisationIn, body)
        with self.db.transaction() as session:
            return dump(domain.register_organisation(session, _uuid(person_id, "person_id"), data))

    @rpc(expected_exceptions=ServiceError)
    def confirm_organisation(self, actor_id, organisation_id) -> dict:
        with self.db.transaction() as session:
            return dump(domain.confirm_organisation(session, _uuid(actor_id, "actor_id"),
                                                    _uuid(organisation_id, "organisation_id")))

    @rpc(expected_exceptions=ServiceError)
    def list_organisations(self, actor_id=None) -> list[dict]:
        with self.db.transaction() as session:
            pending = False
            if actor_id is not None:
                pending = domain.principal(session, _uuid(actor_id, "actor_id")).has("admin")
            return [dump(o) for o in domain.list_organisations(session, include_pending=pending)]

    # ---- administration -------------------------------------------------------------------------
    @rpc(expected_exceptions=ServiceError)
    def admin_get_person(self, actor_id, person_id) -> dict:
        with self.db.transaction() as session:
            return dump(domain.admin_read_person(session, _uuid(actor_id, "actor_id"),
                                                 _uuid(person_id, "person_id")))

    @rpc(expected_exceptions=ServiceError)
    def audit_log(self, actor_id, person_id=None) -> list[dict]:
        with self.db.transaction() as session:
            domain.require(session, _uuid(actor_id, "actor_id"), domain.Role.admin)
            who = _uuid(person_id, "person_id") if person_id else None
            return [dump(e) for e in domain.audit_entries(session, person_id=who)]

    @rpc(expected_exceptions=ServiceError)
    def mail_contacts(self, person_ids: list) -> dict:
        ids = [_uuid(p, "person_ids") for p in person_ids[:MAX_PAGE]]
        with self.db.transaction() as session:
            return domain.mail_contacts(session, ids)

    @rpc(expected_exceptions=ServiceError)
    def unsubscribe(self, person_id) -> bool:
        with self.db.transaction() as session:
            return domain.unsubscribe(session, _uuid(person_id, "person_id"))

    @rpc(expected_exceptions=ServiceError)
    def participant_profiles(self, person_ids: list, on_date: str) -> list[dict]:
        """Full name and age band on ``on_date`` of up to MAX_PAGE persons (the reports service's
        representativeness table, R-3.16); birth dates stay here."""
        if not isinstance(person_ids, list) or len(person_ids) > MAX_PAGE:
            raise InvalidInput(f"До {MAX_PAGE} осіб за раз", errors=[{"field": "person_ids", "message": "list"}])
        try:
            on = date.fromisoformat(on_date)
        except (TypeError, ValueError):
            raise InvalidInput("Некоректна дата", errors=[{"field": "on_date", "message": "YYYY-MM-DD"}]) from None
        ids = [_uuid(p, "person_ids") for p in person_ids]
        with self.db.transaction() as session:
            return domain.participant_profiles(session, ids, on)

    # ---- the register of interested persons -------------------------------------------------------
    @rpc(expected_exceptions=ServiceError)
    def interested_persons(self, category: int, after=None, limit: int = 1000) -> dict:
        """One keyset batch of the register for ``category``; call again with ``next_after``."""
        if not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
            limit = MAX_PAGE
        with self.db.transaction() as session:
            return dump(domain.interested_persons(session, category,
                                                  _uuid(after, "after") if after else None, limit))
