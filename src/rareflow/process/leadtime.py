"""How long a new plant takes, from published durations of real projects.

A lead time is permitting (for the stage and place, where a duration is published) plus
construction (from the decision or approval to first output, for the stage and the kind of
site: the place's own projects if any, then the place's other processing plants on the same
kind of site, else projects outside China, which builds under its own approval regime). Each
part is the range of the published observations that match; the result names them and says
where nothing matched (that part is then taken as zero, not guessed). Whole-path figures (a
new mine's development, the IEA's average) are returned beside it for comparison.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from rareflow.dataset.documents import LeadTime, ProcessCosts, Site

CHINA = "CN"
PROCESSING = ("separation", "cracking", "integrated")
"""Stages that are processing plants (a separation plant and a refinery share their builders
and approvals more than a mine does)."""


@dataclass(frozen=True)
class LeadTimeEstimate:
    """Years from decision to first output, with the observations behind each part."""

    stage: str
    site: Site
    location: str
    with_mine: bool
    permitting: tuple[float, float]
    construction: tuple[float, float]
    permitting_ids: tuple[str, ...]
    construction_ids: tuple[str, ...]
    whole_path: tuple[LeadTime, ...]
    gaps: tuple[str, ...]

    @property
    def years(self) -> tuple[float, float]:
        return (self.permitting[0] + self.construction[0],
                self.permitting[1] + self.construction[1])  # fmt: skip

    @property
    def whole_years(self) -> tuple[int, int]:
        """The range in whole years (for the dynamics' draws): floor and ceiling, at least 1."""
        low, high = self.years
        return max(1, math.floor(low)), max(1, math.ceil(high))

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage, "site": self.site, "location": self.location,
            "with_mine": self.with_mine, "years": list(self.years),
            "whole_years": list(self.whole_years),
            "permitting_years": list(self.permitting), "permitting_from": list(self.permitting_ids),
            "construction_years": list(self.construction),
            "construction_from": list(self.construction_ids),
            "whole_path_published": [
                {"id": t.id, "stage": t.stage, "location": t.location,
                 "years": [t.years_low, t.years_high], "note": t.note}
                for t in self.whole_path
            ],
            "gaps": list(self.gaps),
        }  # fmt: skip


def _span(rows: list[LeadTime]) -> tuple[float, float]:
    return (min(r.years_low for r in rows), max(r.years_high for r in rows)) if rows else (0.0, 0.0)


def _nearest(rows: list[LeadTime], location: str) -> list[LeadTime]:
    """The observations from the place itself if any; elsewhere, outside China unless only
    China's exist (Chinese plants are built under a state approval regime of their own)."""
    same = [t for t in rows if t.location == location]
    if same or location == CHINA:
        return same or rows
    return [t for t in rows if t.location != CHINA] or rows


def lead_time(
    costs: ProcessCosts, stage: str, site: Site, location: str, with_mine: bool = False
) -> LeadTimeEstimate:
    """Permitting + construction of a ``stage`` plant on a ``site`` in ``location``."""
    observed = costs.lead_times
    gaps: list[str] = []
    building = [t for t in observed if t.phase == "construction" and t.stage == stage]
    matching = [t for t in building if t.site == site]
    if building and not matching:
        gaps.append(f"no {site} {stage} construction published: all {stage} sites used")
    elif not building:
        gaps.append(f"no {stage} construction duration published: taken as 0")
    construction = _nearest(matching or building, location)
    if stage in PROCESSING and not any(t.location == location for t in construction):
        # a place's own processing plants of the same kind of site say more about its
        # approvals and builders than the same stage elsewhere
        local = [
            t for t in observed
            if t.phase == "construction" and t.stage in PROCESSING and t.site == site
            and t.location == location
        ]  # fmt: skip
        if local:
            gaps.append(f"no {stage} plant published in {location}: its other "
                        f"{site} processing plants used")  # fmt: skip
            construction = local
    elsewhere = sorted({str(t.location) for t in construction if t.location != location})
    if elsewhere:
        gaps.append(f"construction observed in {', '.join(elsewhere)}, not in {location}")
    permit_stages = {stage, "mine"} if with_mine else {stage}
    permits = [
        t for t in observed
        if t.phase == "permitting" and t.stage in permit_stages and t.location == location
    ]  # fmt: skip
    for wanted in sorted(permit_stages):
        if not any(t.stage == wanted for t in permits):
            gaps.append(f"no {wanted} permitting duration published for {location}: taken as 0")
    low = sum(_span([t for t in permits if t.stage == s])[0] for s in permit_stages)
    high = sum(_span([t for t in permits if t.stage == s])[1] for s in permit_stages)
    whole = tuple(
        t for t in observed
        if t.phase == "development" and (t.location in (None, location))
        and (with_mine or t.stage != "mine")
    )  # fmt: skip
    return LeadTimeEstimate(
        stage, site, location, with_mine, (low, high), _span(construction),
        tuple(t.id for t in permits), tuple(t.id for t in construction), whole, tuple(gaps),
    )  # fmt: skip
