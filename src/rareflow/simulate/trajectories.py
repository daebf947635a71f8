"""Detailed yearly records of a run (``rareflow run --detail``): output of each stage by
country and by facility, and trade by lane, per element group.

The lean records (``record.py``) keep a few sums a year; these keep what a supply-chain
analyst maps: where each group's oxide was mined, separated, made into metal and magnets, and
what crossed which border. Rows are ``(year, measure, place, key, value)``:

- ``mining_country_t``, ``mining_facility_t``: by country or mine, per element group, t oxide
  content of the concentrate mined;
- ``separation_country_t``, ``separation_facility_t``: by country or plant, t oxide separated;
- ``metal_country_t``, ``metal_facility_t``: by country or plant, t metal;
- ``magnet_country_t``, ``magnet_facility_t``: by country or plant, key ``magnets``, t magnet;
- ``trade_oxide_t``, ``trade_metal_t``: by lane ``ORIGIN>DESTINATION``, t product;
  ``trade_magnet_t``: by lane, key ``magnets``, t magnet.

China's export market is the place ``CNX`` (``CN>CNX`` is what China exports, quota and tax
paid; ``CNX>JP`` its delivery). Values under 1e-9 t are left out.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from rareflow.market.model import MarketModel
from rareflow.market.network import RECYCLED
from rareflow.simulate.record import separated_per_t

MEASURES = {
    "mining": "t oxide content of the concentrate mined",
    "separation": "t oxide separated",
    "metal": "t metal",
    "magnet": "t magnet",
    "trade_oxide": "t oxide",
    "trade_metal": "t metal",
    "trade_magnet": "t magnet",
}
SMALLEST = 1e-9


@dataclass
class Trajectories:
    """One sparse matrix from the period-0 columns to every (measure, place, key) row."""

    model: MarketModel
    parts: dict[str, tuple[str, ...]]
    """Element group -> its elements (``NdPr`` -> Nd, Pr)."""
    labels: list[tuple[str, str, str]] = field(default_factory=list)
    matrix: sparse.csr_matrix | None = None

    def __post_init__(self) -> None:
        weights: dict[tuple[str, str, str], dict[int, float]] = defaultdict(dict)

        def add(measure: str, country: str, facility: str | None, key: str, column: int,
                weight: float) -> None:  # fmt: skip
            if weight == 0.0:
                return
            weights[(f"{measure}_country_t", country, key)][column] = weight
            if facility is not None:
                weights[(f"{measure}_facility_t", facility, key)][column] = weight

        world, program = self.model.world, self.model.program
        mines = {m.id: m for m in world.mines}
        plants = {p.id: p for p in world.plants()}
        for column in program.select("concentrate", "heavy_concentrate", period=0):
            meta = program.meta[column]
            mine, plant = mines[meta["mine"]], plants[meta["plant"]]
            source = plants[meta["source"]] if meta["kind"] == "heavy_concentrate" else None
            for g, members in self.parts.items():
                separated = separated_per_t(world.recovery, mine, plant, source, members)
                add("separation", plant.location, plant.id, g, column, separated)
                if meta["kind"] == "concentrate" and mine.ore_type != RECYCLED:
                    content = sum(mine.ore.get(e, 0.0) for e in members)
                    add("mining", mine.location, mine.id, g, column, content)
        for column in program.select("metal", period=0):
            meta = program.meta[column]
            plant = plants[meta["plant"]]
            for g, members in self.parts.items():
                add("metal", plant.location, plant.id, g, column, float(meta["item"] in members))
        for column in program.select("magnet", period=0):
            plant = plants[program.meta[column]["plant"]]
            add("magnet", plant.location, plant.id, "magnets", column, 1.0)
        for column in program.select("trade", "export", "smuggle", period=0):
            meta = program.meta[column]
            lane = f"{meta.get('origin', 'CN')}>{meta.get('destination', 'CNX')}"
            if meta["commodity"] == "magnet":
                weights[("trade_magnet_t", lane, "magnets")][column] = 1.0
                continue
            for g, members in self.parts.items():
                if meta["commodity"] in ("oxide", "metal") and meta["item"] in members:
                    weights[(f"trade_{meta['commodity']}_t", lane, g)][column] = 1.0
        self.labels = sorted(weights)
        rows, columns, values = [], [], []
        for row, label in enumerate(self.labels):
            for column, weight in weights[label].items():
                rows.append(row)
                columns.append(column)
                values.append(weight)
        shape = (len(self.labels), len(program.meta))
        self.matrix = sparse.csr_matrix((values, (rows, columns)), shape=shape)

    def record(self, year: int, values: np.ndarray) -> list[tuple[int, str, str, str, float]]:
        """(year, measure, place, key, value) rows of one solved year."""
        assert self.matrix is not None
        totals = self.matrix @ values
        return [
            (year, measure, place, key, float(total))
            for (measure, place, key), total in zip(self.labels, totals, strict=True)
            if abs(total) > SMALLEST
        ]
