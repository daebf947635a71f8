"""Who keeps a licence's rent (``Licence.rent_holder``), solved by hand on the export world of
``test_market_dynamics``: China mines 100 t at 1 and its own 10-step (100 t) sets its price;
Japan buys 30 t at up to 50 and more only at 2; oxide freight 0.5 USD/kg.

A licence refusing 40 % of the 30 t lets 18 t through at 1.5 USD/kg of paperwork. Japan's
50-step is then short, so Japan pays 50 and a t at China's export market is worth 49.5; China's
domestic price stays 10. The rent per kg is 49.5 - 10 - 1.5 = 38.
"""

from __future__ import annotations

import pytest

from rareflow.dataset.levers import ExportTax, Levers, Licence
from rareflow.game.welfare import accounts
from rareflow.market.clearing import Clearing
from rareflow.market.model import MarketModel
from rareflow.market.network import CHINA_EXPORT
from rareflow.market.rents import buyer_rent, exporter_price
from tests.test_market_dynamics import export_world


def cleared(holder: str, tax_pct: float = 0.0) -> Clearing:
    licence = Licence(id="l", commodities=["oxide"], origin=["china"],
                      exclude_destination=["china"], refused_share=0.4, cost_usd_per_kg=1.5,
                      rent_holder=holder)  # fmt: skip
    tax = ExportTax(id="t", commodities=["oxide"], origin=["china"],
                    exclude_destination=["china"], rate_pct=tax_pct)  # fmt: skip
    taxes = [tax] if tax_pct else []
    return Clearing(MarketModel(export_world(Levers(licences=[licence], export_taxes=taxes))))


@pytest.mark.parametrize(
    ("holder", "fob", "rent"), [("exporter", 49.5, 0.0), ("buyer", 11.5, 38.0)]
)
def test_the_fob_price_carries_the_rent_only_when_the_exporter_keeps_it(
    holder: str, fob: float, rent: float
) -> None:
    clearing = cleared(holder)
    result = clearing.solve()
    _, duals, _, _ = clearing.solve_arrays()
    assert result.exports()["t"].sum() == pytest.approx(18.0)
    assert result.price("oxide", "Nd", "CN") == pytest.approx(10.0)
    assert result.price("oxide", "Nd", "JP") == pytest.approx(50.0)
    assert result.price("oxide", "Nd", CHINA_EXPORT) == pytest.approx(fob)
    assert exporter_price(clearing.model, duals, "oxide", "Nd") == pytest.approx(fob)
    assert buyer_rent(clearing.model, duals, "oxide", "Nd") == pytest.approx(rent)


def test_the_rent_goes_to_the_buyers_place_in_the_welfare_split() -> None:
    # Same flows, same objective (1,584 thousand USD); the 38 x 18 t = 684 of rent moves from
    # China to Japan.
    split = {}
    for holder in ("exporter", "buyer"):
        clearing = cleared(holder)
        clearing.solve()  # sets the licence's volume from the year without it
        values, duals, objective, _ = clearing.solve_arrays()
        split[holder] = accounts(clearing.model, values, duals).surplus
        assert sum(split[holder].values()) == pytest.approx(objective, rel=1e-9)
        assert objective == pytest.approx(1584.0)
    assert split["buyer"]["JP"] - split["exporter"].get("JP", 0.0) == pytest.approx(684.0)
    assert split["exporter"]["CN"] - split["buyer"]["CN"] == pytest.approx(684.0)


def test_an_export_tax_is_charged_on_the_price_exporters_get() -> None:
    # 25 % on the exporters' FOB price b = 10 + 1.5 + 0.25 b: b = 11.5 / 0.75 = 15.333, revenue
    # 0.25 x 15.333 x 18 t = 69; with the rent at the exporter the base is 49.5 (222.75).
    for holder, fob, revenue in (("buyer", 11.5 / 0.75, 69.0), ("exporter", 49.5, 222.75)):
        clearing = cleared(holder, tax_pct=25)
        result = clearing.solve()
        values, duals, _, _ = clearing.solve_arrays()
        assert result.price("oxide", "Nd", CHINA_EXPORT) == pytest.approx(fob, abs=2e-3)
        assert result.price("oxide", "Nd", "JP") == pytest.approx(50.0)
        taxes = accounts(clearing.model, values, duals).tax_revenue
        assert taxes["CN"] == pytest.approx(revenue, abs=0.05)


def test_an_unknown_rent_holder_is_refused() -> None:
    with pytest.raises(ValueError, match="rent_holder"):
        Licence(id="l", refused_share=0.1, rent_holder="china")  # type: ignore[arg-type]
