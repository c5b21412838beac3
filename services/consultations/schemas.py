"""Contracts of the consultations service (RPC results and, later, its events)."""
from pydantic import BaseModel, Field


class Category(BaseModel):
    code: int = Field(ge=1, le=22, description="item number in R-1.13")
    title: str
