"""Flow parameters with descriptions, so the Prefect UI renders a form and the API validates.

Each parameter is a pydantic type (a constrained `Annotated` type or a model such as
`Settings`, `BurstRule`, `DateWindow` whose fields carry descriptions); a deployment enforces
the resulting JSON schema, so a Custom run with a bad value is refused before work starts.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from marsad.sources import Source, SourcesError

# Prefect takes each parameter's description from the flow's docstring (Args:), so these
# types carry only the constraints; the flows document their parameters.
SourcesPath = Annotated[str, Field(min_length=1)]
OutDir = Annotated[str, Field(min_length=1)]
AllowPrivate = bool
Group = Annotated[str | None, Field(pattern=r"^[A-Za-z0-9_-]*$")]


class DateWindow(BaseModel):
    """A half-open time window [since, until) in UTC; a date means its midnight."""

    model_config = ConfigDict(extra="forbid")

    since: datetime | None = Field(default=None, description="From (inclusive); empty = open.")
    until: datetime | None = Field(default=None, description="Until (exclusive); empty = now.")

    @model_validator(mode="after")
    def _ordered(self) -> DateWindow:
        if self.since and self.until and as_utc(self.since) >= as_utc(self.until):
            raise ValueError(f"since ({self.since}) must be before until ({self.until})")
        return self

    def contains(self, when: datetime | None) -> bool:
        if when is None:
            return False
        when = as_utc(when)
        return (self.since is None or when >= as_utc(self.since)) and (
            self.until is None or when < as_utc(self.until)
        )


def as_utc(when: datetime | date) -> datetime:
    if not isinstance(when, datetime):
        return datetime(when.year, when.month, when.day, tzinfo=UTC)
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def select_group(sources: list[Source], group: str | None) -> list[Source]:
    """The sources of one schedule group; an unknown group is an error, not an empty run."""
    if not group:
        return sources
    chosen = [s for s in sources if s.group == group]
    if not chosen:
        groups = sorted({s.group for s in sources})
        raise SourcesError(f"no source has group {group!r}; groups in the file: {groups}")
    return chosen
