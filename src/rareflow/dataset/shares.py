"""Shares by country of one supply-chain stage in one year, computed from the dataset's tables.

Mining and gallium use the country tables (USGS, pinned edition). The processing stages
(separation, metal, alloy, magnet, recycling) sum facility figures: for each facility active in
the year, the figure that best describes that year is chosen (see ``SELECTION``), converted to
the stage's common unit (NdPr oxide to REO through the facility's ore composition). A facility
``covered_by`` an aggregate that is counted (e.g. JL Mag inside China's NdFeB output) is left out,
so nothing is counted twice. Every choice is reported with the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from rareflow.dataset.dataset import DataQueryError, Dataset

COUNTRY_STAGES = ("mining", "gallium")
FACILITY_STAGES = {
    "separation": ("separation", ("reo", "ndpr_oxide"), "t REO-equivalent per year"),
    "metal": ("metal", ("metal", "ndpr_metal"), "t metal per year"),
    "alloy": ("alloy", ("ndfeb_alloy",), "t alloy per year"),
    "magnet": ("magnet", ("ndfeb_magnet", "smco_magnet", "magnet"), "t magnet per year"),
    "recycling": ("recycling", ("reo", "scrap"), "t per year"),
}
STAGE_NAMES = (*COUNTRY_STAGES, *FACILITY_STAGES)
SELECTION = (
    "output or quota of the year",
    "latest run rate",
    "nameplate",
    "latest earlier output or quota",
    "permitted",
    "target",
)
"""Order in which a facility's figures are preferred for a year (first match wins)."""
INACTIVE = ("halted", "announced")
REFERENCE_STAGE = {"mining": "mining", "separation": "separation", "magnet": "magnet"}


@dataclass
class StageShares:
    """Shares by country plus the trail of how they were computed."""

    stage: str
    year: int
    unit: str
    table: pd.DataFrame
    """Columns: country, name, amount, share_pct (descending)."""
    total: float
    basis: str
    contributions: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Per facility: the figure used, its basis, year and any conversion (processing stages)."""
    excluded: list[str] = field(default_factory=list)
    references: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Published shares for the same stage (``stage_shares.csv``) to compare with."""
    world_total: float | None = None

    def share_of(self, country: str) -> float:
        rows = self.table[self.table["country"] == country]
        return float(rows["share_pct"].iloc[0]) if not rows.empty else 0.0

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON shape of ``rareflow data shares --json`` (see docs/cli.md)."""
        return {
            "stage": self.stage,
            "year": self.year,
            "unit": self.unit,
            "basis": self.basis,
            "total": self.total,
            "world_total": self.world_total,
            "shares": self.table.to_dict(orient="records"),
            "contributions": self.contributions.to_dict(orient="records"),
            "excluded": self.excluded,
            "references": self.references.to_dict(orient="records"),
        }


def stage_shares(
    dataset: Dataset, stage: str, year: int, edition: str | None = None
) -> StageShares:
    """Shares by country of ``stage`` in ``year`` (see the module docstring for the method)."""
    if stage == "mining":
        result = _mining(dataset, year, edition)
    elif stage == "gallium":
        result = _gallium(dataset, year, edition)
    elif stage in FACILITY_STAGES:
        result = _facilities(dataset, stage, year)
    else:
        raise DataQueryError(f"unknown stage {stage!r}; expected one of {', '.join(STAGE_NAMES)}")
    result.references = _references(dataset, stage)
    return result


def _finish(dataset: Dataset, amounts: pd.Series) -> tuple[pd.DataFrame, float]:
    amounts = amounts[amounts > 0].groupby(level=0).sum().sort_values(ascending=False)
    total = float(amounts.sum())
    if total <= 0:
        raise DataQueryError("no quantities for this stage and year in the dataset")
    table = pd.DataFrame(
        {
            "country": amounts.index,
            "name": [dataset.country_name(c) for c in amounts.index],
            "amount": amounts.to_numpy(),
            "share_pct": 100.0 * amounts.to_numpy() / total,
        }
    )
    return table, total


def _mining(dataset: Dataset, year: int, edition: str | None) -> StageShares:
    rows = dataset.mine_production(year, edition)
    used = edition or dataset.manifest.usgs_edition
    world = rows.loc[rows["country"] == "WORLD", "mine_production_t_reo"]
    countries = rows[rows["country"] != "WORLD"].dropna(subset=["mine_production_t_reo"])
    table, total = _finish(
        dataset, countries.set_index("country")["mine_production_t_reo"].astype(float)
    )
    return StageShares(
        stage="mining",
        year=year,
        unit="t REO",
        table=table,
        total=total,
        basis=f"USGS {used.upper()} mine production by country; shares of the sum of listed "
        "countries (incl. 'Other')",
        world_total=float(world.iloc[0]) if not world.empty else None,
    )


def _gallium(dataset: Dataset, year: int, edition: str | None) -> StageShares:
    rows = dataset.gallium_production(year, edition)
    used = edition or dataset.manifest.usgs_edition
    world = rows.loc[rows["country"] == "WORLD", "value_t_ga"]
    countries = rows[rows["country"] != "WORLD"].dropna(subset=["value_t_ga"])
    table, total = _finish(dataset, countries.set_index("country")["value_t_ga"].astype(float))
    return StageShares(
        stage="gallium",
        year=year,
        unit="t Ga",
        table=table,
        total=total,
        basis=f"USGS {used.upper()} primary (low-purity) gallium production by country",
        world_total=float(world.iloc[0]) if not world.empty else None,
    )


def _facilities(dataset: Dataset, stage: str, year: int) -> StageShares:
    stage_column, products, unit = FACILITY_STAGES[stage]
    facilities = dataset.table("facilities").set_index("id")
    capacities = dataset.table("facility_capacities")
    capacities = capacities[
        (capacities["stage"] == stage_column)
        & capacities["product"].isin(products)
        & (capacities["available_from"].isna() | (capacities["available_from"] <= year))
    ]
    figures: dict[str, dict[str, Any]] = {}
    excluded: list[str] = []
    for facility_id, group in capacities.groupby("facility"):
        facility = facilities.loc[facility_id]
        reason = _inactive_reason(facility, year)
        if reason is None:
            figure, reason = _best_figure(dataset, facility, group, year)
            if figure is not None:
                figures[str(facility_id)] = {"country": facility["country"], **figure}
                continue
        excluded.append(f"{facility_id}: {reason}")
    for facility_id in list(figures):
        covering = [c for c in facilities.loc[facility_id, "covered_by"] if c in figures]
        if covering:
            excluded.append(f"{facility_id}: covered by {', '.join(covering)}")
    counted = {
        k: v
        for k, v in figures.items()
        if not any(c in figures for c in facilities.loc[k, "covered_by"])
    }
    if not counted:
        raise DataQueryError(f"no {stage} capacities in the dataset for {year}")
    contributions = pd.DataFrame([{"facility": k, **v} for k, v in counted.items()])
    contributions = contributions.sort_values("amount", ascending=False)
    table, total = _finish(dataset, contributions.set_index("country")["amount"])
    return StageShares(
        stage=stage,
        year=year,
        unit=unit,
        table=table,
        total=total,
        basis="facility figures in the dataset, one per active facility (preferring "
        + " > ".join(SELECTION)
        + "); facilities covered by a counted aggregate are left out",
        contributions=contributions.reset_index(drop=True),
        excluded=sorted(excluded),
    )


def _inactive_reason(facility: pd.Series, year: int) -> str | None:
    if facility["status"] in INACTIVE:
        return f"status {facility['status']}"
    start = facility["start_year"]
    if pd.notna(start) and int(start) > year:
        return f"starts in {int(start)}"
    if pd.isna(start) and facility["status"] != "operating":
        return f"status {facility['status']} with no start year"
    return None


def _rank(basis: str, figure_year: int, year: int) -> int | None:
    """Position of a figure in ``SELECTION`` for ``year`` (``None``: not usable)."""
    if basis in ("output", "quota"):
        if figure_year == year:
            return 0
        return 3 if figure_year < year else None
    order = {"run_rate": 1, "nameplate": 2, "permitted": 4, "target": 5}
    if basis == "run_rate" and figure_year > year:
        return None
    return order[basis]


def _best_figure(
    dataset: Dataset, facility: pd.Series, group: pd.DataFrame, year: int
) -> tuple[dict[str, Any] | None, str]:
    known = group.dropna(subset=["capacity"])
    if known.empty:
        return None, "capacity not given in the sources (null)"
    ranks = [_rank(b, int(y), year) for b, y in zip(known["basis"], known["year"], strict=True)]
    known = known.assign(
        rank=ranks, distance=(known["year"] - year).abs(), later=known["year"] > year
    ).dropna(subset=["rank"])
    if known.empty:
        return None, f"only figures for years after {year}"
    known = known.sort_values(["rank", "later", "distance"])
    conversion = ""
    for row in known.itertuples():
        amount, conversion = _convert(dataset, facility, str(row.product), float(row.capacity))
        if amount is not None:
            figure = {
                "amount": amount,
                "product": row.product,
                "stated": float(row.capacity),
                "basis": row.basis,
                "figure_year": int(row.year),
                "conversion": conversion,
                "source": ";".join(row.source),
            }
            return figure, ""
    return None, "no figure convertible to the stage's unit (" + conversion + ")"


def _convert(
    dataset: Dataset, facility: pd.Series, product: str, capacity: float
) -> tuple[float | None, str]:
    if product != "ndpr_oxide":
        return capacity, ""
    ore = facility["ore_type"]
    if pd.isna(ore):
        return None, "NdPr oxide capacity needs the facility's ore type to convert to REO"
    distribution = dataset.ore_distribution(str(ore))
    ndpr = float(distribution["Nd"] + distribution["Pr"])
    return capacity / ndpr, f"NdPr oxide / {ndpr:.3f} (NdPr share of {ore} REO)"


def _references(dataset: Dataset, stage: str) -> pd.DataFrame:
    published = dataset.table("stage_shares")
    if published.empty:
        return published
    key = REFERENCE_STAGE.get(stage, stage)
    mask = published["stage"].str.lower().str.contains(key)
    columns = ["stage", "region", "year", "share_pct", "kind", "source", "note"]
    refs = published.loc[mask, columns].copy()
    refs["region"] = refs["region"].map(lambda r: ";".join(r))
    refs["source"] = refs["source"].map(lambda s: ";".join(s))
    return refs.reset_index(drop=True)
