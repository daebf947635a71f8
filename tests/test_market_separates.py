"""Plants that separate part of the series: a light plant that leaves Sm in its heavy
concentrate (as Lynas Malaysia and Mountain Pass leave SEG), a heavy circuit that makes only Dy
and stores the rest of its feed (Lynas's first heavy circuit of 2025). Solved by hand.

Units: t and USD/kg (objective in thousand USD).
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from rareflow.compliance.provenance import flow_graph
from rareflow.dataset.market_parameters import Plant as PlantSpec
from rareflow.dataset.market_parameters import separates_problem
from rareflow.elements import element
from rareflow.market.accounting import balance_residuals, ledger_table
from rareflow.market.clearing import Clearing
from rareflow.market.model import MarketModel
from rareflow.market.network import LIGHT_SEPARABLE, Mine, Plant, Segment, World
from rareflow.scenario.schema import Project

from .test_market_dynamics import world


def _sm_dy_world(disposal_cost: float = 0.1) -> World:
    """Japan mines 100 t of an 80 % Nd, 10 % Sm, 10 % Dy ore; its light plant separates only
    the Nd, and its heavy circuit (3 USD/kg of feed) only the Dy. Japan buys Nd (80 t at 30
    USD/kg), Dy (10 t at 200) and Sm (10 t at 5)."""
    spec = world(0.0, [
        Segment("jp_nd", "R", "any", "oxide", "Nd", "JP", 80.0, 10.0, ((80.0, 30.0),)),
        Segment("jp_dy", "R", "any", "oxide", "Dy", "JP", 10.0, 10.0, ((10.0, 200.0),)),
        Segment("jp_sm", "R", "any", "oxide", "Sm", "JP", 10.0, 2.0, ((10.0, 5.0),)),
    ])  # fmt: skip
    spec.mines = [Mine("m", "JP", "a", {"Nd": 0.8, "Sm": 0.1, "Dy": 0.1}, 100.0, 1.0)]
    spec.reference_prices = {("oxide", "Nd"): 20.0, ("oxide", "Dy"): 100.0, ("oxide", "Sm"): 2.0}
    spec.disposal_cost = disposal_cost
    spec.separators = [
        Plant("light", "separation", "JP", 1e6, 0.0, separates=frozenset({"Nd"})),
        Plant("circuit", "separation", "JP", 1e6, 3.0, heavy=True,
              heavy_concentrate_only=True, separates=frozenset({"Dy"})),
    ]  # fmt: skip
    return spec


def _solve(spec: World) -> tuple[MarketModel, object, float]:
    clearing = Clearing(MarketModel(spec))
    values, _, objective = clearing.model.solve_once()
    return clearing.model, values, objective


def test_a_plant_separates_its_listed_elements_or_its_kinds_default() -> None:
    assert Plant("p", "separation", "JP", 1.0, 0.0).separable == LIGHT_SEPARABLE
    assert "Sm" in LIGHT_SEPARABLE and "Dy" not in LIGHT_SEPARABLE
    assert Plant("p", "separation", "JP", 1.0, 0.0, heavy=True).separable >= {"Dy", "La", "Y"}
    partial = Plant("p", "separation", "JP", 1.0, 0.0, separates=frozenset({"La", "Nd"}))
    assert partial.separable == {"La", "Nd"}


def test_sm_leaves_with_the_heavy_concentrate_and_the_circuit_stores_it() -> None:
    # The light plant makes 80 t of Nd and leaves 20 t of concentrate (half Sm, half Dy); the
    # circuit takes all 20 t (Dy is worth 200, its feed costs 3 + half of it stored at 0.1) and
    # makes 10 t of Dy; the 10 t of Sm are stored with it, so Japan's Sm demand goes unmet.
    model, values, _ = _solve(_sm_dy_world())
    program = model.program
    made = {}
    for e in ("Nd", "Sm", "Dy"):
        made[e] = sum(values[c] * k for c, k in model.outputs[(0, "light", e)])
        made[e] += sum(values[c] * k for c, k in model.outputs[(0, "circuit", e)])
    assert made == {"Nd": pytest.approx(80.0), "Sm": pytest.approx(0.0, abs=1e-9),
                    "Dy": pytest.approx(10.0)}  # fmt: skip
    fed = sum(values[c] for c in program.select("heavy_concentrate", period=0))
    assert fed == pytest.approx(20.0)
    # the ledger counts the Sm as stored (10 t of Sm2O3 = 8.62 t of Sm) and closes
    ledger = ledger_table(model, values).set_index("element")
    sm_metal = 10.0 * element("Sm").metal_per_oxide
    assert ledger.loc["Sm", "heavy_disposed_t"] == pytest.approx(sm_metal, rel=1e-6)
    assert ledger.loc["Dy", "heavy_disposed_t"] == pytest.approx(0.0, abs=1e-6)
    assert abs(ledger["residual_t"]).max() < 1e-6
    assert abs(balance_residuals(model, values)[1]).max() < 1e-6
    # provenance: the Sm reaches the circuit and goes no further
    graph = flow_graph(model, values, "Sm")
    assert graph.edges[("plant:light", "plant:circuit")] == pytest.approx(sm_metal, rel=1e-6)
    assert not [edge for edge in graph.edges if edge[0] == "plant:circuit"]


def test_the_circuits_residue_is_costed_at_the_storage_cost() -> None:
    # Everything else equal, 0.1 USD/kg more storage on the 10 t of residue costs 1 thousand
    # USD more (the light plant's own heavy fraction is all taken by the circuit).
    _, _, cheap = _solve(_sm_dy_world(0.1))
    _, _, dear = _solve(_sm_dy_world(0.2))
    assert cheap - dear == pytest.approx(1.0, rel=1e-6)


def test_bad_separates_lists_are_refused_with_the_fix() -> None:
    assert separates_problem([], heavy=False, heavy_concentrate_only=False) is None
    assert separates_problem(["La", "Nd"], heavy=False, heavy_concentrate_only=False) is None
    assert "Dy need heavy: true" in str(separates_problem(["Nd", "Dy"], False, False))
    assert "not a rare-earth symbol" in str(separates_problem(["Nd", "Xx"], False, False))
    assert "twice" in str(separates_problem(["Nd", "Nd"], False, False))
    assert "heavy_concentrate_only" in str(separates_problem(["Dy"], True, False))
    assert separates_problem(["Dy", "Tb"], True, True) is None
    capacity = {"value": 1, "unit": "t", "source": ["s"]}
    spec = {"id": "p", "location": "MY", "capacity": capacity, "cost_usd_per_kg": capacity,
            "separates": ["La", "Nd"]}  # fmt: skip
    with pytest.raises(ValidationError, match="separates_source"):
        PlantSpec.model_validate(spec)
    assert PlantSpec.model_validate({**spec, "separates_source": ["s"]}).separates == ["La", "Nd"]
    project = {"id": "x", "stage": "separation", "location": "MY", "capacity_t": 10,
               "cost_usd_per_kg": 5, "start": 2026, "status": "planned"}  # fmt: skip
    with pytest.raises(ValidationError, match="heavy_concentrate_only"):
        Project.model_validate({**project, "heavy": True, "separates": ["Dy"]})
    with pytest.raises(ValidationError, match="separation plants"):
        Project.model_validate({**project, "stage": "metal", "separates": ["Nd"]})
    with pytest.raises(ValidationError, match="expansion"):
        Project.model_validate({**project, "expands": "y", "separates": ["Nd"]})
