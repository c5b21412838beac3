"""What every contract shares: strict input models and the paging and year limits, once."""
from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

MAX_PER_PAGE = 100
FEED_PAGE_MAX = 5000  # service-to-service keyset pages (the reports feed)


class Strict(BaseModel):
    """An input model: unknown fields are refused, strings stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


Page = Annotated[int, Field(ge=1, description="page number, from 1")]
PerPage = Annotated[int, Field(ge=1, le=MAX_PER_PAGE, description=f"items per page, 1–{MAX_PER_PAGE}")]
Year = Annotated[int, Field(ge=2000, le=2100, description="a calendar year, 2000–2100")]
FeedLimit = Annotated[int, Field(ge=1, le=FEED_PAGE_MAX, description=f"items per page, 1–{FEED_PAGE_MAX}")]


class Bucket(BaseModel):
    """One fixed-window counter of the gateway's abuse limits (OWASP API4)."""

    key: str = Field(min_length=1, max_length=200)
    limit: int = Field(ge=1)
    window: int = Field(ge=1, le=86_400, description="seconds")
