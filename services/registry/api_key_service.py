"""The registry's entrypoints for partners' API keys (mixed into the registry service)."""
from __future__ import annotations

from nameko.rpc import rpc

from chassis.errors import InvalidInput, NotFound, ServiceError, parse, parse_uuid
from contracts.registry import ApiKeyIn
from services.registry import handlers, rules


class ApiKeyEntrypoints:
    @rpc(expected_exceptions=ServiceError)
    def api_key_issue(self, admin_id, body: dict) -> dict:
        data = parse(ApiKeyIn, body)
        return handlers.issue_api_key(self.uow, data, parse_uuid(admin_id, "admin_id")).model_dump(mode="json")

    @rpc(expected_exceptions=ServiceError)
    def api_key_list(self) -> dict:
        return handlers.list_api_keys(self.uow).model_dump(mode="json")

    @rpc(expected_exceptions=ServiceError)
    def api_key_revoke(self, key_id) -> dict:
        try:
            kid = parse_uuid(key_id, "key_id")
        except InvalidInput:
            raise NotFound("Ключ не знайдено", code="api_key_not_found") from None
        return handlers.revoke_api_key(self.uow, kid).model_dump(mode="json")

    @rpc(expected_exceptions=ServiceError)
    def api_key_use(self, key: str, scope: str) -> dict:
        if not rules.looks_like_api_key(key):
            raise NotFound("Ключ API недійсний", code="api_key_invalid")
        return handlers.use_api_key(self.uow, key, scope).model_dump(mode="json")
