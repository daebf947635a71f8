"""The LP's declared structure: families documented, small worlds as golden LP files, the
builder refusing undeclared families, China's two tiers."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from rareflow.dataset.levers import ExportBan, ExportTax, Levers, Quota, Tariff
from rareflow.market.families import COLUMNS, ROWS
from rareflow.market.lpfile import lp_text
from rareflow.market.model import MarketModel
from rareflow.market.network import CHINA_EXPORT, Inventories, Mine, Plant, Segment, World
from rareflow.market.program import Program

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).parent / "golden"


def small_world() -> World:
    places = {
        "CN": frozenset({"CN", "china"}),
        CHINA_EXPORT: frozenset({CHINA_EXPORT, "china"}),
        "AU": frozenset({"AU"}),
        "JP": frozenset({"JP"}),
    }
    levers = Levers(
        bans=[ExportBan(id="no_au_ore_to_china", commodities=["concentrate"], origin=["AU"],
                        destination=["china"])],
        quotas=[Quota(id="export_quota", commodities=["oxide"], origin=["china"],
                      exclude_destination=["china"], limit_t=20)],
        export_taxes=[ExportTax(id="export_tax", commodities=["oxide"], origin=["china"],
                                exclude_destination=["china"], rate_pct=15)],
        tariffs=[Tariff(id="jp_tariff", commodities=["oxide"], origin=["china"],
                        destination=["JP"], rate_pct=5)],
    )  # fmt: skip
    world = World(
        year=2024,
        places=places,
        mines=[
            Mine("m_cn", "CN", "a", {"La": 0.5, "Nd": 0.5}, 100.0, 1.0),
            Mine("m_au", "AU", "b", {"La": 0.8, "Nd": 0.2}, 50.0, 2.0),
        ],
        separators=[
            Plant("s_cn", "separation", "CN", 1000.0, 1.0),
            Plant("s_jp", "separation", "JP", 100.0, 3.0),
        ],
        metal_plants=[],
        magnet_plants=[],
        gallium_plants=[],
        grades={},
        grade_other_cost={},
        segments=[
            Segment("nd_cn", "CN", "any", "oxide", "Nd", "CN", 60.0, 20.0, ((60.0, 20.0),)),
            Segment("nd_jp", "JP", "any", "oxide", "Nd", "JP", 30.0, 25.0, ((30.0, 25.0),)),
            Segment("la_cn", "CN", "any", "oxide", "La", "CN", 50.0, 3.0, ((50.0, 3.0),)),
        ],
        freight={"concentrate": 0.5, "oxide": 0.5, "metal": 0.5, "magnet": 0.5, "gallium": 1.0},
        reference_prices={
            ("oxide", "Nd"): 20.0,
            ("oxide", "La"): 3.0,
            ("concentrate", "m_au"): 5.0,
            ("concentrate", "m_cn"): 5.0,
        },
        recovery=1.0,
        metal_yield=1.0,
        magnet_yield=1.0,
        disposal_cost=0.1,
        levers=levers,
        discount_rate=0.1,
    )
    world.inventories = Inventories(("oxide",), ((0.1, 20.0, 10.0), (0.2, 5.0, 5.0)), 3.0)
    return world


def test_small_world_lp_is_the_golden_file() -> None:
    """Two periods, stocks, China's export step with a quota, a tax and a tariff, a ban. Set
    RAREFLOW_UPDATE_GOLDEN=1 to rewrite the file after an intended change (then review the
    diff)."""
    text = lp_text(MarketModel(small_world(), periods=2))
    path = GOLDEN / "small_world.lp"
    if os.environ.get("RAREFLOW_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text()


def test_china_ships_abroad_only_through_its_export_market() -> None:
    model = MarketModel(small_world())
    program = model.program
    lanes = [program.meta[c] for c in program.select("trade")]
    assert not [m for m in lanes if m["origin"] == "CN"]
    assert {(m["origin"], m["destination"]) for m in lanes if m["item"] == "Nd"} >= {
        (CHINA_EXPORT, "JP")
    }
    exports = [program.meta[c] for c in program.select("export")]
    # La is used only in China: no export step for it
    assert {(m["commodity"], m["item"]) for m in exports} == {("oxide", "Nd")}


def test_every_family_is_documented_with_its_symbol() -> None:
    text = (ROOT / "docs" / "market.md").read_text()
    for table in (COLUMNS, ROWS):
        for family in table.values():
            pattern = rf"\| `{re.escape(family.name)}` \| `{re.escape(family.symbol)}` \|"
            assert re.search(pattern, text), f"{family.name} missing from docs/market.md"


def test_builder_refuses_undeclared_families_and_wrong_indices() -> None:
    program = Program()
    with pytest.raises(KeyError, match="undeclared column family"):
        program.column("magic", {"period": 0}, 0.0, [])
    with pytest.raises(ValueError, match="expected"):
        program.column("export", {"period": 0, "commodity": "oxide"}, 0.0, [])
    with pytest.raises(ValueError, match="needs"):
        program.row(("capacity", 0), 0.0, 1.0)
