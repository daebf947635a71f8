"""The typed, validated ``Dataset``: tables as pandas DataFrames plus sources and policies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from rareflow.dataset import documents
from rareflow.dataset.market_parameters import MarketParameters
from rareflow.dataset.tables import TABLES
from rareflow.elements import ELEMENTS, RARE_EARTHS

if TYPE_CHECKING:
    from rareflow.dataset.loader import LoadedData


class DataQueryError(LookupError):
    """A question the dataset cannot answer as asked (unknown table, year not in an edition ...)."""


@dataclass(frozen=True)
class Dataset:
    """The world dataset: every table validated, every figure with a resolvable source."""

    manifest: documents.Manifest
    tables: dict[str, pd.DataFrame]
    sources: dict[str, documents.Source]
    country_groups: dict[str, documents.CountryGroup]
    policies: list[documents.PolicyEvent]
    files: dict[str, list[str]] = field(default_factory=dict)
    process_costs: documents.ProcessCosts | None = None
    market: MarketParameters | None = None

    @classmethod
    def from_loaded(cls, loaded: LoadedData) -> Dataset:
        tables = {}
        for name, spec in TABLES.items():
            rows = [record.row.model_dump() for record in loaded.tables.get(name, [])]
            tables[name] = pd.DataFrame(rows, columns=spec.columns)
        return cls(
            manifest=loaded.manifest,
            tables=tables,
            sources={k: v[0] for k, v in sorted(loaded.sources.items())},
            country_groups={k: v[0] for k, v in loaded.groups.items()},
            policies=sorted((v[0] for v in loaded.policies.values()), key=lambda e: (e.date, e.id)),
            files=loaded.files,
            process_costs=loaded.process_costs[0] if loaded.process_costs else None,
            market=loaded.market[0] if loaded.market else None,
        )

    def table(self, name: str) -> pd.DataFrame:
        """A copy of one table by name (see ``TABLES``)."""
        try:
            return self.tables[name].copy()
        except KeyError:
            names = ", ".join(self.table_names())
            raise DataQueryError(f"unknown table {name!r}; expected one of {names}") from None

    @staticmethod
    def table_names() -> list[str]:
        return [*TABLES, "sources", "policies", "country_groups"]

    def source(self, source_id: str) -> documents.Source:
        try:
            return self.sources[source_id]
        except KeyError:
            raise DataQueryError(f"unknown source id {source_id!r}") from None

    # --- countries -----------------------------------------------------------------------------

    def countries_in_group(self, group: str) -> list[str]:
        """Country codes that belong to ``group`` (e.g. 'us_japan_australia')."""
        if group not in self.country_groups:
            raise DataQueryError(
                f"unknown country group {group!r}; expected one of {', '.join(self.country_groups)}"
            )
        countries = self.tables["countries"]
        return [
            c for c, g in zip(countries["code"], countries["groups"], strict=True) if group in g
        ]

    def country_name(self, code: str) -> str:
        names = dict(
            zip(self.tables["countries"]["code"], self.tables["countries"]["name"], strict=True)
        )
        return str(names.get(code, code))

    def mine_production(self, year: int, edition: str | None = None) -> pd.DataFrame:
        """Mine production by country (t REO) for ``year`` from one USGS edition (pinned default).

        The ``WORLD`` row is the edition's rounded world total; ``OTHER`` is USGS's rest of world.
        """
        return self.edition_rows("mine_production", year, edition)

    def gallium_production(
        self, year: int, edition: str | None = None, measure: str = "primary_production"
    ) -> pd.DataFrame:
        """Gallium production or capacity by country (t Ga) for ``year`` from one USGS edition."""
        return self.edition_rows("gallium_production", year, edition, measure=measure)

    def edition_rows(
        self, table: str, year: int, edition: str | None = None, **equal: str
    ) -> pd.DataFrame:
        """Rows of a per-edition table for ``year`` from one USGS edition (the pinned one by
        default), never mixing editions; ``equal`` filters further columns."""
        edition = edition or self.manifest.usgs_edition
        frame = self.tables[table]
        for column, value in equal.items():
            frame = frame[frame[column] == value]
        if edition not in set(frame["edition"]):
            raise DataQueryError(f"no {table} rows for USGS edition {edition!r}")
        rows = frame[(frame["edition"] == edition) & (frame["year"] == year)]
        if rows.empty:
            years = sorted(set(frame.loc[frame["edition"] == edition, "year"]))
            others = sorted(set(frame.loc[frame["year"] == year, "edition"].dropna()))
            hint = f"; edition(s) {', '.join(others)} report {year}" if others else ""
            raise DataQueryError(
                f"USGS edition {edition} reports {table} for {years}, not {year}{hint}"
            )
        return rows.reset_index(drop=True)

    # --- ores ----------------------------------------------------------------------------------

    def ore_distribution(self, ore_type: str, normalise: bool = True) -> pd.Series:
        """Element distribution of an ore as fractions of total REO (renormalised to sum to 1).

        Elements the source does not report are 0. With ``normalise=False`` the source's own
        percentages are returned unchanged (they may not sum to 100, as the source warns).
        """
        ores = self.tables["ore_types"].set_index("id")
        if ore_type not in ores.index:
            raise DataQueryError(
                f"unknown ore type {ore_type!r}; expected one of {', '.join(ores.index)}"
            )
        row = ores.loc[ore_type]
        values = pd.Series(
            {s: float(row[f"{s}_pct"]) if pd.notna(row[f"{s}_pct"]) else 0.0 for s in RARE_EARTHS},
            name=ore_type,
        )
        return values / values.sum() if normalise else values

    def summary(self) -> pd.DataFrame:
        """One row per table: rows and the files it was read from."""
        records = [
            {
                "table": name,
                "rows": len(frame),
                "description": TABLES[name].description,
                "files": "; ".join(self.files.get(name, [])),
            }
            for name, frame in self.tables.items()
        ]
        records += [
            {
                "table": "sources",
                "rows": len(self.sources),
                "description": "citations",
                "files": "",
            },
            {
                "table": "policies",
                "rows": len(self.policies),
                "description": "policy events",
                "files": "",
            },
            {
                "table": "country_groups",
                "rows": len(self.country_groups),
                "description": "country groups",
                "files": "",
            },
        ]
        return pd.DataFrame(records)

    def elements_table(self) -> pd.DataFrame:
        """The element constants of ``rareflow.elements`` as a table."""
        return pd.DataFrame(
            [
                {
                    "symbol": e.symbol,
                    "name": e.name,
                    "atomic_number": e.atomic_number,
                    "atomic_mass": e.atomic_mass,
                    "oxide": e.oxide_formula,
                    "metal_per_oxide": e.metal_per_oxide,
                    "oxide_per_metal": e.oxide_per_metal,
                    "group_usgs": e.group("usgs"),
                    "group_china": e.group("china"),
                }
                for e in sorted(ELEMENTS.values(), key=lambda e: e.atomic_number)
            ]
        )
