"""The public HTTP API, prefix ``/api/v1`` (docs/architecture.md)."""
from __future__ import annotations

from pydantic import BaseModel

from contracts.consultations import Category
from gateway.clients import consultations as svc
from gateway.openapi import ApiSpec


class CategoryList(BaseModel):
    items: list[Category]


def register(spec: ApiSpec):
    api = spec.blueprint("api", "/api/v1")

    @api.route("/categories", summary="The 22 subject categories of consultations (R-1.13)",
               response=CategoryList, tags=["consultations"], errors=(503,))
    def categories():
        return CategoryList(items=svc.list_categories())

    return api
