"""The registry's entrypoints for partners' API keys (mixed into the registry service)."""
from __future__ import annotations

import uuid

from nameko.rpc import rpc

from chassis.errors import NotFound, ServiceError
from contracts.registry import ApiKeyIn, Registry
from services.registry import handlers, rules


class ApiKeyEntrypoints:
    @rpc(expected_exceptions=ServiceError)
    @Registry.serves
    def api_key_issue(self, admin_id: uuid.UUID, body: ApiKeyIn) -> dict:
        return handlers.issue_api_key(self.uow, body, admin_id).model_dump(mode="json")

    @rpc(expected_exceptions=ServiceError)
    @Registry.serves
    def api_key_list(self) -> dict:
        return handlers.list_api_keys(self.uow).model_dump(mode="json")

    @rpc(expected_exceptions=ServiceError)
    @Registry.serves
    def api_key_revoke(self, key_id: str) -> dict:
        try:
            kid = uuid.UUID(key_id)
        except ValueError:
            raise NotFound("Ключ не знайдено", code="api_key_not_found") from None
        return handlers.revoke_api_key(self.uow, kid).model_dump(mode="json")

    @rpc(expected_exceptions=ServiceError)
    @Registry.serves
    def api_key_use(self, key: str, scope: str) -> dict:
        if not rules.looks_like_api_key(key):
            raise NotFound("Ключ API недійсний", code="api_key_invalid")
        return handlers.use_api_key(self.uow, key, scope).model_dump(mode="json")
