"""What each yearly metric of a run is: its unit and meaning, for exports and reports.

Element amounts are t of oxide (``NdPr`` = Nd + Pr), gallium amounts t of Ga; keys name the
element group, the stage, the place or the stockpile a value belongs to (``group:element`` for
a scenario's extra measured groups).
"""

from __future__ import annotations

METRICS: dict[str, tuple[str, str]] = {
    "self_sufficiency_pct": ("%", "the group's own supply over its reference demand"),
    "self_sufficiency_owned_pct": ("%", "the same, counting plants and mines the group owns"),
    "group_supply_t": (
        "t oxide/yr (Ga: t/yr)",
        "separated in the group from ore mined or scrap recycled in it",
    ),
    "group_supply_owned_t": (
        "t oxide/yr",
        "separated by plants, from mines, the group's countries own",
    ),
    "group_reference_t": ("t oxide/yr (Ga: t/yr)", "the group's demand at reference prices"),
    "group_use_t": ("t oxide/yr (Ga: t/yr)", "what the group was served"),
    "group_unmet_t": ("t oxide/yr", "reference demand less what was served"),
    "world_supply_t": ("t oxide/yr", "separated oxide, world"),
    "china_free_oxide_t": ("t oxide/yr", "separated oxide with no Chinese stage"),
    "china_separated_pct": ("%", "China's share of the element's separated oxide, world"),
    "china_exports_t": (
        "t oxide/yr",
        "China's exports of the element (oxide, metal and magnet content)",
    ),
    "private_stock_cn_t": ("t oxide", "private stocks in China at the year end"),
    "private_stock_abroad_t": ("t oxide", "private stocks outside China at the year end"),
    "heavy_concentrate_stock_t": (
        "t oxide",
        "the element held in heavy concentrate at the year end, for separation in a later year",
    ),
    "price_CN_usd_per_kg": ("USD/kg", "oxide price in China's domestic market"),
    "price_CNX_usd_per_kg": ("USD/kg", "oxide price FOB China (export market)"),
    "price_DE_usd_per_kg": ("USD/kg", "oxide price delivered to Germany"),
    "price_US_usd_per_kg": ("USD/kg", "oxide price delivered to the United States"),
    "price_JP_usd_per_kg": ("USD/kg", "oxide price delivered to Japan"),
    **{
        f"price_{place}_at_cap": (
            "1 or 0",
            f"1 if the oxide price {where} is at the cap of the oxide's demand curve there "
            "(buyers rationed at the curve's top step: the price is a bound, not a market price)",
        )
        for place, where in (
            ("CN", "in China"),
            ("DE", "in Germany"),
            ("US", "in the US"),
            ("JP", "in Japan"),
        )
    },
    "china_share_pct": ("%", "China's share of world output of the stage"),
    "hhi": ("index 0-10,000", "Herfindahl-Hirschman index of the stage by country"),
    "top3_share_pct": ("%", "share of the stage's three largest countries"),
    "magnets_served_t": ("t magnet/yr", "world magnet demand served"),
    "magnets_unmet_t": ("t magnet/yr", "world magnet demand not served"),
    "magnets_substituted_t": ("t magnet/yr", "world magnet demand met by substitutes"),
    "subsidy_musd": ("million USD/yr", "cost of price floors and production subsidies"),
    "max_imbalance_t": ("t", "largest residual of a balance row (a check; about 0)"),
    "ledger_residual_t": ("t", "residual of the element ledger (a check; about 0)"),
    "recycled_t": ("t magnet/yr", "magnets recycled"),
    "stock_t": ("t oxide", "a state stockpile's holding at the year end"),
    "stockpile_days": ("days", "a state stockpile's holding in days of its holder's use"),
}


def unit_of(metric: str) -> str:
    """The unit of a recorded metric ("" if the metric is not described here)."""
    return METRICS.get(metric, ("", ""))[0]
