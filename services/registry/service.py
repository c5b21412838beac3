"""registry: persons, roles, units, organisations, sessions, the register of interested persons
(entrypoints only: units of work in handlers.py, rules in rules.py, SQL in store.py)."""
from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta, timezone

from nameko.rpc import rpc

from chassis.errors import Forbidden, ServiceError
from chassis.service import BaseService
from chassis.settings import get_settings
from chassis.store import UnitOfWork
from contracts.registry import (MAX_PERSONS, Bucket, ConsentIn, DevLoginIn, IdentityIn, MeUpdate, OrganisationIn,
                                Registry, RoleGrant, UnitIn)
from services.registry import handlers
from services.registry.api_key_service import ApiKeyEntrypoints
from services.registry.consent import CONSENT_TEXT, CONSENT_VERSION
from services.registry.identity import identity_from_userinfo
from services.registry.store import Store

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
    @Registry.serves
    def register_person(self, person: IdentityIn) -> dict:
        return dump(handlers.register(self.uow, person))

    @rpc(expected_exceptions=ServiceError)
    @Registry.serves
    def login(self, identity: IdentityIn) -> dict:
        return dump(handlers.login(self.uow, identity, self._ttl()))

    @rpc(expected_exceptions=ServiceError)
    @Registry.serves
    def login_userinfo(self, userinfo: dict) -> dict:
        identity = identity_from_userinfo(userinfo, get_settings().community_code)
        return dump(handlers.login(self.uow, identity, self._ttl()))

    @rpc(expected_exceptions=ServiceError)
    @Registry.serves
    def dev_login(self, body: DevLoginIn) -> dict:
        if not get_settings().auth_dev_login:
            raise Forbidden("Вхід для розробників вимкнено", code="dev_login_disabled")
        return dump(handlers.dev_login(self.uow, body, self._ttl()))

    @rpc(expected_exceptions=ServiceError)
    @Registry.serves
    def resolve_session(self, session_id: uuid.UUID) -> dict:
        return dump(handlers.resolve(self.uow, session_id))

    @rpc(expected_exceptions=ServiceError)
    @Registry.serves
    def rate_hit(self, buckets: list[Bucket]) -> int:
        return handlers.rate_hit(self.uow, buckets, datetime.now(timezone.utc))

    @rpc(expected_exceptions=ServiceError)
    @Registry.serves
    def resolve_and_hit(self, session_id: uuid.UUID, buckets: list[Bucket], person_bucket: Bucket) -> dict:
        principal, wait = handlers.resolve_and_hit(self.uow, session_id, buckets, person_bucket,
                                                   datetime.now(timezone.utc))
        return {"principal": dump(principal) if principal else None, "wait": wait}

    @rpc(expected_exceptions=ServiceError)
    @Registry.serves
    def logout(self, session_id: uuid.UUID) -> None:
        handlers.revoke_session(self.uow, session_id)

    @rpc
    @Registry.serves
    def consent_text(self) -> dict:
        return {"version": CONSENT_VERSION, "text": CONSENT_TEXT}

    # ---- the personal cabinet -------------------------------------------------------------------
    @rpc(expected_exceptions=ServiceError)
    @Registry.serves
    def get_me(self, person_id: uuid.UUID) -> dict:
        return dump(handlers.read_me(self.uow, person_id))

    @rpc(expected_exceptions=ServiceError)
    @Registry.serves
    def give_consent(self, person_id: uuid.UUID, body: ConsentIn) -> dict:
        return dump(handlers.give_consent(self.uow, person_id, body.version))

    @rpc(expected_exceptions=ServiceError)
    @Registry.serves
    def update_me(self, person_id: uuid.UUID, body: MeUpdate) -> dict:
        return dump(handlers.update_me(self.uow, person_id, body))

    @rpc(expected_exceptions=ServiceError)
    @Registry.serves
    def erase_me(self, person_id: uuid.UUID) -> None:
        handlers.erase_me(self.uow, person_id)

    @rpc(expected_exceptions=ServiceError)
    @Registry.serves
    def export_me(self, person_id: uuid.UUID) -> dict:
        return json.loads(json.dumps(handlers.export_me(self.uow, person_id), default=str))

    # ---- roles, units, organisations --------------------------------------------------------------
    @rpc(expected_exceptions=ServiceError)
    @Registry.serves
    def grant_role(self, actor_id: uuid.UUID, person_id: uuid.UUID, body: RoleGrant) -> dict:
        return dump(handlers.grant_role(self.uow, actor_id, person_id, body))

    @rpc(expected_exceptions=ServiceError)
    @Registry.serves
    def revoke_role(self, actor_id: uuid.UUID, person_id: uuid.UUID, role_id: uuid.UUID) -> None:
        handlers.revoke_role(self.uow, actor_id, person_id, role_id)

    @rpc(expected_exceptions=ServiceError)
    @Registry.serves
    def list_units(self) -> list[dict]:
        return [dump(u) for u in handlers.list_units(self.uow)]

    @rpc(expected_exceptions=ServiceError)
    @Registry.serves
    def create_unit(self, actor_id: uuid.UUID, body: UnitIn) -> dict:
        return dump(handlers.create_unit(self.uow, actor_id, body))

    @rpc(expected_exceptions=ServiceError)
    @Registry.serves
    def register_organisation(self, person_id: uuid.UUID, body: OrganisationIn) -> dict:
        return dump(handlers.register_organisation(self.uow, person_id, body))

    @rpc(expected_exceptions=ServiceError)
    @Registry.serves
    def confirm_organisation(self, actor_id: uuid.UUID, organisation_id: uuid.UUID) -> dict:
        return dump(handlers.confirm_organisation(self.uow, actor_id, organisation_id))

    @rpc(expected_exceptions=ServiceError)
    @Registry.serves
    def list_organisations(self, actor_id: uuid.UUID | None = None) -> list[dict]:
        return [dump(o) for o in handlers.list_organisations(self.uow, actor_id)]

    # ---- administration -------------------------------------------------------------------------
    @rpc(expected_exceptions=ServiceError)
    @Registry.serves
    def admin_get_person(self, actor_id: uuid.UUID, person_id: uuid.UUID) -> dict:
        return dump(handlers.admin_read_person(self.uow, actor_id, person_id))

    @rpc(expected_exceptions=ServiceError)
    @Registry.serves
    def audit_log(self, actor_id: uuid.UUID, person_id: uuid.UUID | None = None) -> list[dict]:
        return [dump(e) for e in handlers.audit_log(self.uow, actor_id, person_id)]

    @rpc(expected_exceptions=ServiceError)
    @Registry.serves
    def mail_contacts(self, person_ids: list[uuid.UUID]) -> dict:
        return handlers.mail_contacts(self.uow, person_ids[:MAX_PERSONS])

    @rpc(expected_exceptions=ServiceError)
    @Registry.serves
    def unsubscribe(self, person_id: uuid.UUID) -> bool:
        return handlers.unsubscribe(self.uow, person_id)

    @rpc(expected_exceptions=ServiceError)
    @Registry.serves
    def participant_profiles(self, person_ids: list[uuid.UUID], on_date: date) -> list[dict]:
        """Birth dates stay here: the reports service gets age bands."""
        return handlers.participant_profiles(self.uow, person_ids, on_date)

    # ---- the register of interested persons -------------------------------------------------------
    @rpc(expected_exceptions=ServiceError)
    @Registry.serves
    def interested_persons(self, category: int, after: uuid.UUID | None = None, limit: int = 1000) -> dict:
        if not 1 <= limit <= MAX_PERSONS:
            limit = MAX_PERSONS
        return dump(handlers.interested_persons(self.uow, category, after, limit))
