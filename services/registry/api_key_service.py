"""The registry's entrypoints for partners' API keys (mixed into the registry service)."""
from __future__ import annotations

from nameko.rpc import rpc

from chassis.errors import InvalidInput, NotFound, ServiceError, parse, parse_uuid
from services.registry import api_keys


class ApiKeyEntrypoints:
    @rpc(expected_exceptions=ServiceError)
    def api_key_issue(self, admin_id, body: dict) -> dict:
        data = parse(api_keys.ApiKeyIn, body)
        with self.db.transaction() as session:
            return api_keys.issue(session, data, parse_uuid(admin_id, "admin_id")).model_dump(mode="json")

    @rpc(expected_exceptions=ServiceError)
    def api_key_list(self) -> dict:
        with self.db.transaction() as session:
            return api_keys.listing(session).model_dump(mode="json")

    @rpc(expected_exceptions=ServiceError)
    def api_key_revoke(self, key_id) -> dict:
        try:
            kid = parse_uuid(key_id, "key_id")
        except InvalidInput:
            raise NotFound("Ключ не знайдено", code="api_key_not_found") from None
        with self.db.transaction() as session:
            return api_keys.revoke(session, kid).model_dump(mode="json")

    @rpc(expected_exceptions=ServiceError)
    def api_key_use(self, key: str, scope: str) -> dict:
        if not isinstance(key, str) or not key.startswith(api_keys.PREFIX) or len(key) > 200:
            raise NotFound("Ключ API недійсний", code="api_key_invalid")
        with self.db.transaction() as session:
            return api_keys.use(session, key, scope).model_dump(mode="json")
