"""consultations: the three forms, lifecycle and timers (entrypoints only)."""
from nameko.rpc import rpc

from chassis.service import BaseService
from services.consultations.categories import CATEGORIES
from services.consultations.schemas import Category


class ConsultationsService(BaseService):
    name = "consultations"

    @rpc
    def list_categories(self) -> list[dict]:
        """The 22 categories of R-1.13."""
        return [Category(code=c, title=t).model_dump() for c, t in CATEGORIES.items()]
