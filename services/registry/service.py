"""registry: persons, roles, units, organisations, sessions, the register of interested persons
(entrypoints only: units of work in handlers.py, rules in rules.py, SQL in store.py)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from nameko.rpc import rpc

from chassis.errors import Forbidden, InvalidInput, ServiceError, parse
from chassis.errors import parse_uuid as _uuid
from chassis.service import BaseService
from chassis.settings import get_settings
from chassis.store import UnitOfWork
from contracts.registry import ConsentIn, DevLoginIn, IdentityIn, MeUpdate, OrganisationIn, RoleGrant, UnitIn
from services.registry import handlers, throttle
from services.registry.api_key_service import ApiKeyEntrypoints
from services.registry.consent import CONSENT_TEXT, CONSENT_VERSION
from services.registry.identity import identity_from_userinfo
from services.registry.store import Store

MAX_PAGE = 5000


def dump(model) -> dict:
    return model.model_dump(mode="json")


class RegistryService(ApiKeyEntrypoints, BaseService):
    name = "registry"

    @property
    def uow(self) -> UnitOfWork[Store]:
        return UnitOfWork(self.db, Store)

    def _ttl(self) -> timedelta:
        return timedelta(minutes=get_settings().session_ttl_minutes)

    # ---- identity and sessions ------------------------------------------------------------------
    @rpc(expected_exceptions=ServiceError)
    def register_person(self, person: dict) -> dict:
        """Create or update a person from identity data; ``person_registered`` on creation."""
        return dump(handlers.register(self.uow, parse(IdentityIn, person)))

    @rpc(expected_exceptions=ServiceError)
    def login(self, identity: dict) -> dict:
        """After the identity provider vouched for the person: upsert them and open a session."""
        return dump(handlers.login(self.uow, parse(IdentityIn, identity), self._ttl()))

    @rpc(expected_exceptions=ServiceError)
    def login_userinfo(self, userinfo: dict) -> dict:
        """Log in with what the identity provider's user-info endpoint returned."""
        identity = identity_from_userinfo(userinfo, get_settings().community_code)
        return dump(handlers.login(self.uow, identity, self._ttl()))

    @rpc(expected_exceptions=ServiceError)
    def dev_login(self, body: dict) -> dict:
        if not get_settings().auth_dev_login:
            raise Forbidden("Вхід для розробників вимкнено", code="dev_login_disabled")
        return dump(handlers.dev_login(self.uow, parse(DevLoginIn, body), self._ttl()))

    @rpc(expected_exceptions=ServiceError)
    def resolve_session(self, session_id) -> dict:
        return dump(handlers.resolve(self.uow, _uuid(session_id, "session_id")))

    @rpc(expected_exceptions=ServiceError)
    def rate_hit(self, buckets: list) -> int:
        """The gateway's abuse limits: count one request per bucket; seconds to wait, or 0."""
        parsed = [parse(throttle.Bucket, b) for b in buckets]
        return handlers.rate_hit(self.uow, parsed, datetime.now(timezone.utc))

    @rpc(expected_exceptions=ServiceError)
    def resolve_and_hit(self, session_id, buckets: list, person_bucket: dict) -> dict:
        """An authenticated write in one round trip: resolve the session and count the request in
        ``buckets`` and, when the session is valid, in the person's bucket (its key completed with the
        person's id here). ``principal`` is None for an invalid or revoked session (only ``buckets``
        are counted; the gateway's route refuses the request itself)."""
        parsed = [parse(throttle.Bucket, b) for b in buckets]
        template = parse(throttle.Bucket, person_bucket)
        principal, wait = handlers.resolve_and_hit(self.uow, _uuid(session_id, "session_id"), parsed, template,
                                                   datetime.now(timezone.utc))
        return {"principal": dump(principal) if principal else None, "wait": wait}

    @rpc(expected_exceptions=ServiceError)
    def logout(self, session_id) -> None:
        handlers.revoke_session(self.uow, _uuid(session_id, "session_id"))

    @rpc
    def consent_text(self) -> dict:
        return {"version": CONSENT_VERSION, "text": CONSENT_TEXT}

    # ---- the personal cabinet -------------------------------------------------------------------
    @rpc(expected_exceptions=ServiceError)
    def get_me(self, person_id) -> dict:
        return dump(handlers.read_me(self.uow, _uuid(person_id, "person_id")))

    @rpc(expected_exceptions=ServiceError)
    def give_consent(self, person_id, body: dict) -> dict:
        data = parse(ConsentIn, body)
        return dump(handlers.give_consent(self.uow, _uuid(person_id, "person_id"), data.version))

    @rpc(expected_exceptions=ServiceError)
    def update_me(self, person_id, body: dict) -> dict:
        data = parse(MeUpdate, body)
        return dump(handlers.update_me(self.uow, _uuid(person_id, "person_id"), data))

    @rpc(expected_exceptions=ServiceError)
    def erase_me(self, person_id) -> None:
        handlers.erase_me(self.uow, _uuid(person_id, "person_id"))

    @rpc(expected_exceptions=ServiceError)
    def export_me(self, person_id) -> dict:
        import json

        return json.loads(json.dumps(handlers.export_me(self.uow, _uuid(person_id, "person_id")), default=str))

    # ---- roles, units, organisations --------------------------------------------------------------
    @rpc(expected_exceptions=ServiceError)
    def grant_role(self, actor_id, person_id, body: dict) -> dict:
        data = parse(RoleGrant, body)
        return dump(handlers.grant_role(self.uow, _uuid(actor_id, "actor_id"), _uuid(person_id, "person_id"), data))

    @rpc(expected_exceptions=ServiceError)
    def revoke_role(self, actor_id, person_id, role_id) -> None:
        handlers.revoke_role(self.uow, _uuid(actor_id, "actor_id"), _uuid(person_id, "person_id"),
                             _uuid(role_id, "role_id"))

    @rpc(expected_exceptions=ServiceError)
    def list_units(self) -> list[dict]:
        return [dump(u) for u in handlers.list_units(self.uow)]

    @rpc(expected_exceptions=ServiceError)
    def create_unit(self, actor_id, body: dict) -> dict:
        data = parse(UnitIn, body)
        return dump(handlers.create_unit(self.uow, _uuid(actor_id, "actor_id"), data))

    @rpc(expected_exceptions=ServiceError)
    def register_organisation(self, person_id, body: dict) -> dict:
        data = parse(OrganisationIn, body)
        return dump(handlers.register_organisation(self.uow, _uuid(person_id, "person_id"), data))

    @rpc(expected_exceptions=ServiceError)
    def confirm_organisation(self, actor_id, organisation_id) -> dict:
        return dump(handlers.confirm_organisation(self.uow, _uuid(actor_id, "actor_id"),
                                                  _uuid(organisation_id, "organisation_id")))

    @rpc(expected_exceptions=ServiceError)
    def list_organisations(self, actor_id=None) -> list[dict]:
        actor = _uuid(actor_id, "actor_id") if actor_id is not None else None
        return [dump(o) for o in handlers.list_organisations(self.uow, actor)]

    # ---- administration -------------------------------------------------------------------------
    @rpc(expected_exceptions=ServiceError)
    def admin_get_person(self, actor_id, person_id) -> dict:
        return dump(handlers.admin_read_person(self.uow, _uuid(actor_id, "actor_id"), _uuid(person_id, "person_id")))

    @rpc(expected_exceptions=ServiceError)
    def audit_log(self, actor_id, person_id=None) -> list[dict]:
        actor = _uuid(actor_id, "actor_id")
        who = _uuid(person_id, "person_id") if person_id else None
        return [dump(e) for e in handlers.audit_log(self.uow, actor, who)]

    @rpc(expected_exceptions=ServiceError)
    def mail_contacts(self, person_ids: list) -> dict:
        ids = [_uuid(p, "person_ids") for p in person_ids[:MAX_PAGE]]
        return handlers.mail_contacts(self.uow, ids)

    @rpc(expected_exceptions=ServiceError)
    def unsubscribe(self, person_id) -> bool:
        return handlers.unsubscribe(self.uow, _uuid(person_id, "person_id"))

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
        return handlers.participant_profiles(self.uow, ids, on)

    # ---- the register of interested persons -------------------------------------------------------
    @rpc(expected_exceptions=ServiceError)
    def interested_persons(self, category: int, after=None, limit: int = 1000) -> dict:
        """One keyset batch of the register for ``category``; call again with ``next_after``."""
        if not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
            limit = MAX_PAGE
        return dump(handlers.interested_persons(self.uow, category, _uuid(after, "after") if after else None, limit))
