"""The players' instruments: what each may choose, on which grid, and the levers they act on.

China: export taxes (ad valorem on the FOB price) on light rare-earth oxides and metals, on
heavy ones and on magnets; or, WTO-constrained as after 2015, licences refusing a share of each
group's exports, enforced at the border. The alliance: price floors at its separators (one on Nd
and Pr, one on Dy and Tb), a production subsidy per kg REO they separate, and state stocks of
the security elements held at one of its places (days of the group's use of Nd and Pr, of Dy
and Tb).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rareflow.dataset.levers import (
    ExportTax,
    Levers,
    Licence,
    PriceFloor,
    StockPurchase,
    StockRelease,
    Subsidy,
)
from rareflow.simulate.world import stock_lever_id

CHINA_PLAYER, ALLIANCE_PLAYER = "china", "alliance"
LIGHT = ("La", "Ce", "Pr", "Nd", "Sm")
HEAVY = ("Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Y")
TAX_GRID = (0.0, 0.05, 0.1, 0.15, 0.25, 0.4, 0.6)
"""Export-tax rates searched (share of the FOB price; 0.6 puts FOB at 2.5 x China's price)."""
NDPR_FLOOR_GRID = (0.0, 60.0, 80.0, 110.0, 140.0)
"""Nd/Pr floor levels searched, USD/kg of oxide (0: no floor; 110: the DoD-MP floor)."""
HEAVY_FLOOR_GRID = (0.0, 300.0, 450.0, 600.0, 900.0)
"""Dy/Tb floor levels, USD/kg (Dy oxide was near 250, Tb near 800 in 2024-2025)."""
SUBSIDY_GRID = (0.0, 2.0, 5.0, 10.0, 20.0)
"""Production subsidies searched, USD per kg REO separated at the group's plants (separation
costs 3-12 USD/kg REO outside China, docs/process.md)."""
STOCKPILE_GRID = (0.0, 30.0, 60.0, 90.0, 180.0)
"""State stock targets searched, days of the group's reference use (Japan's rule: 60 days, up to
180 for high-risk metals; Project Vault: 60 days)."""
STOCKPILE_ELEMENTS = {"game_stock_ndpr": ("Nd", "Pr"), "game_stock_dytb": ("Dy", "Tb")}
"""Each stockpile instrument and the oxides it holds."""


@dataclass(frozen=True)
class Instrument:
    id: str
    """The lever id in the model."""
    player: str
    kind: Literal["export_tax", "licence", "production", "floor", "subsidy", "stockpile"]
    grid: tuple[float, ...]
    label: str


def china_instruments(grid: tuple[float, ...] = TAX_GRID) -> tuple[Instrument, ...]:
    return tuple(
        Instrument(f"game_tax_{group}", CHINA_PLAYER, "export_tax", grid, f"export tax, {label}")
        for group, label in (("light", "light oxide and metal"), ("heavy", "heavy oxide and metal"),
                             ("magnet", "magnets"))
    )  # fmt: skip


LICENCE_GRID = (0.0, 0.1, 0.25, 0.5, 0.75)
"""Refused shares searched for China's licences (April 2025: about half of each controlled oxide
and metal, docs/validation.md)."""


def china_licences(grid: tuple[float, ...] = LICENCE_GRID) -> tuple[Instrument, ...]:
    """China's instruments under WTO constraints (no export taxes or quotas, as after 2015): a
    share of each product's price-taking exports refused, enforced at the border, by group."""
    return tuple(
        Instrument(f"game_licence_{group}", CHINA_PLAYER, "licence", grid, f"refused, {label}")
        for group, label in (("light", "light oxide and metal"), ("heavy", "heavy oxide and metal"),
                             ("magnet", "magnets"))
    )  # fmt: skip


PRODUCTION_CUT_GRID = (0.0, 0.1, 0.2, 0.3)
"""Cuts of China's mining (legal mines' capacity, the mining quota) searched, as shares."""


def china_production(grid: tuple[float, ...] = PRODUCTION_CUT_GRID) -> Instrument:
    """China's mining quota as an instrument: a cut of its legal mines' capacity this year."""
    return Instrument("game_production_cut", CHINA_PLAYER, "production", grid, "mining cut")


def alliance_instruments(
    ndpr: tuple[float, ...] = NDPR_FLOOR_GRID,
    heavy: tuple[float, ...] = HEAVY_FLOOR_GRID,
    subsidy: tuple[float, ...] | None = None,
    stockpile: tuple[float, ...] | None = None,
) -> tuple[Instrument, ...]:
    """The two floors, the production subsidy and the two stockpiles when their grids are
    given."""
    found = [
        Instrument("game_floor_ndpr", ALLIANCE_PLAYER, "floor", ndpr, "floor on Nd, Pr (USD/kg)"),
        Instrument("game_floor_dytb", ALLIANCE_PLAYER, "floor", heavy, "floor on Dy, Tb (USD/kg)"),
    ]
    if subsidy is not None:
        label = "separation subsidy (USD/kg REO)"
        found.append(
            Instrument("game_subsidy_separation", ALLIANCE_PLAYER, "subsidy", subsidy, label)
        )
    if stockpile is not None:
        for instrument_id, elements in STOCKPILE_ELEMENTS.items():
            label = f"state stock of {', '.join(elements)} (days of the group's use)"
            found.append(Instrument(instrument_id, ALLIANCE_PLAYER, "stockpile", stockpile, label))
    return tuple(found)


def game_levers(
    instruments: tuple[Instrument, ...],
    allied_separators: list[str],
    stock_location: str = "JP",
    stock_caps: dict[str, float] | None = None,
    licence_rent: Literal["exporter", "buyer"] = "exporter",
) -> Levers:
    """The levers the instruments act on, at zero (to be built into the market once). A
    stockpile buys its oxides at ``stock_location`` at any price up to ``stock_caps`` (USD/kg by
    element: what a kg is worth in a disruption) and sells them there; China's licences leave
    their rent with ``licence_rent`` (its exporters or the licensed buyers)."""
    china = {"origin": ["china"], "exclude_destination": ["china"]}
    taxes, licences, floors, subsidies = [], [], [], []
    buys: list[StockPurchase] = []
    releases: list[StockRelease] = []
    for instrument in instruments:
        if instrument.kind == "stockpile":
            for e in STOCKPILE_ELEMENTS[instrument.id]:
                place = {"location": stock_location, "commodity": "oxide", "item": e}
                cap = (stock_caps or {}).get(e, 1e4)
                buy, release = (stock_lever_id(instrument.id, e, k) for k in ("buy", "release"))
                buys.append(StockPurchase(id=buy, volume_t=0.0, max_price_usd_per_kg=cap, **place))
                releases.append(StockRelease(id=release, volume_t=0.0, **place))
            continue
        group = instrument.id.rsplit("_", 1)[1]
        scope = (
            {"commodities": ["magnet"]}
            if group == "magnet"
            else {
                "commodities": ["oxide", "metal"],
                "elements": list(LIGHT if group == "light" else HEAVY),
            }
        )
        if instrument.kind == "export_tax":
            taxes.append(ExportTax(id=instrument.id, rate_pct=0.0, **china, **scope))
        elif instrument.kind == "licence":
            licences.append(Licence(id=instrument.id, refused_share=0.0, closes_smuggling=True,
                                    rent_holder=licence_rent, **china, **scope))  # fmt: skip
        elif instrument.kind == "subsidy" and allied_separators:
            subsidies.append(Subsidy(id=instrument.id, plants=allied_separators, usd_per_kg=0.0))
        elif allied_separators:
            elements = ["Nd", "Pr"] if instrument.id == "game_floor_ndpr" else ["Dy", "Tb"]
            floors.append(PriceFloor(id=instrument.id, plants=allied_separators,
                                     elements=elements, floor_usd_per_kg=0.0,
                                     volume_t=1e9))  # fmt: skip
    return Levers(
        export_taxes=taxes,
        licences=licences,
        floors=floors,
        subsidies=subsidies,
        stock_purchases=buys,
        stock_releases=releases,
    )
