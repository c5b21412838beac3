"""registry: persons, roles, the register of interested persons (entrypoints only)."""
from nameko.rpc import rpc

from chassis.errors import ServiceError, parse
from chassis.service import BaseService
from services.registry import domain
from services.registry.schemas import PersonIn


class RegistryService(BaseService):
    name = "registry"

    @rpc(expected_exceptions=ServiceError)
    def register_person(self, person: dict) -> dict:
        """Create or update a person from identity data; ``person_registered`` on creation."""
        data = parse(PersonIn, person)
        with self.db.transaction() as session:
            return domain.register_person(session, data).model_dump(mode="json")
