"""Conservation checks and payments of a solved market year (period 0 of the model).

``balance`` recomputes every balance row of period 0 from the activity levels (production +
imports + stock carried in + stock draw = use + exports + stock carried out + disposal);
``ledger`` follows every element from the mines to its final uses in t of element. The matrices
both use are derived once per model and kept in its ``ModelCache``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import sparse

from rareflow.elements import element
from rareflow.market.separation import heavy_content
from rareflow.market.ties import TIE_BOUND_T

if TYPE_CHECKING:
    from rareflow.market.model import MarketModel

BALANCE_TOLERANCE = 1e-9
"""Largest allowed imbalance, relative to the largest flow of the world (t/t)."""

LEDGER_COLUMNS = (
    "sourced",
    "lost_in_separation",
    "heavy_disposed",
    "heavy_held",
    "oxide_final",
    "to_metal",
    "metal_made",
    "in_magnets",
    "magnet_lost",
    "metal_final",
)
FINAL_FAMILIES = ("demand", "disposal", "offtake", "stock_purchase", "stock_release", "inventory")


class MassBalanceError(RuntimeError):
    """A solved market does not conserve mass (a bug, never an input error)."""


@dataclass
class ModelCache:
    """Matrices derived from a built model, made on first use."""

    meta: pd.DataFrame | None = None
    ledger: dict[str, np.ndarray] | None = None
    residual: tuple[sparse.csr_matrix, sparse.csr_matrix] | None = None
    """Sparse (oxide, metal) residual operators of the ledger, for year loops."""
    balance: tuple[list[tuple[object, ...]], sparse.csr_matrix, np.ndarray] | None = None
    """Keys, matrix rows and row indices of period 0's balances."""
    metal_per_oxide: dict[str, float] | None = None
    """Element -> t of metal per t of its oxide, in the order of the world's elements (the
    ledger's rows), for the yearly ledger."""
    places: tuple[list[str], list[str]] | None = None
    """The place each row and each column's welfare term belongs to (``game.welfare``)."""
    periods: tuple[np.ndarray, np.ndarray] | None = None
    """The period of each row and each column (-1: none), for period accounts."""
    buyer_rents: dict[tuple[str, str, int], list[int]] = field(default_factory=dict)
    """(commodity, item, period) -> rows of the licences whose rent buyers keep on China's
    export step of the product (``rents.py``)."""


def meta_frame(model: MarketModel) -> pd.DataFrame:
    """One row per column: family (``kind``), period and index fields."""
    cache = model.cache
    if cache.meta is None:
        frame = pd.DataFrame(model.program.meta)
        for column in ("item", "commodity", "variant", "location", "origin", "destination"):
            if column not in frame:
                frame[column] = None
        cache.meta = frame
    return cache.meta


def balance_residuals(
    model: MarketModel, values: np.ndarray
) -> tuple[list[tuple[object, ...]], np.ndarray]:
    """Keys and residuals (uses - supplies - stock carried in) of period 0's balances."""
    if model.cache.balance is None:
        keys, matrix = model.balance_rows()
        rows = np.asarray([model.program.rows[k] for k in keys], dtype=np.int64)
        model.cache.balance = (list(keys), matrix, rows)
    keys, matrix, rows = model.cache.balance
    return keys, matrix @ values - model.row_lower[rows]


def balance_table(model: MarketModel, values: np.ndarray) -> pd.DataFrame:
    """Each period-0 pool and heavy balance: uses - supplies - stock carried in (should be 0)."""
    keys, residual = balance_residuals(model, values)
    frame = pd.DataFrame(
        {"row": [":".join(map(str, key)) for key in keys], "residual_t": residual.astype(float)}
    )
    return frame if len(frame) else pd.DataFrame({"residual_t": [0.0]})


def ledger_matrices(model: MarketModel) -> dict[str, np.ndarray]:
    """Per ledger column, the t of each element (metal basis) per unit of each period-0 LP
    column."""
    if model.cache.ledger is not None:
        return model.cache.ledger
    world, program = model.world, model.program
    elements = world.elements
    index = {e: i for i, e in enumerate(elements)}
    metal = np.array([element(e).metal_per_oxide for e in elements])
    mines = {m.id: m for m in world.mines}
    plants = {p.id: p for p in world.separators}
    out = {name: np.zeros((len(elements), len(program.cost))) for name in LEDGER_COLUMNS}
    lost = 1 - world.recovery
    for column in program.select("concentrate", period=0):
        meta = program.meta[column]
        source = plants[meta["plant"]]
        for e, share in mines[meta["mine"]].ore.items():
            mass = share * metal[index[e]]
            out["sourced"][index[e], column] += mass
            if e in source.separable:
                out["lost_in_separation"][index[e], column] += lost * mass
    # a light-only plant's heavy fraction: separated elsewhere (with its losses), disposed of
    # or held for a later period
    fates = {
        "heavy_concentrate": ("lost_in_separation", lost),
        "heavy_disposal": ("heavy_disposed", 1.0),
        "heavy_stock": ("heavy_held", 1.0),
    }
    for column in program.select(*fates, period=0):
        meta = program.meta[column]
        target, factor = fates[meta["kind"]]
        separated = meta["kind"] == "heavy_concentrate"
        source_id = meta["source"] if separated else meta["plant"]
        separable = plants[meta["plant"]].separable if separated else frozenset()
        for e, share in heavy_content(model, meta["mine"], source_id).items():
            if separated and e not in separable:  # a heavy circuit's residue, stored
                out["heavy_disposed"][index[e], column] += share * metal[index[e]]
            else:
                out[target][index[e], column] += factor * share * metal[index[e]]
    for column in program.select("metal", period=0):
        i = index[program.meta[column]["item"]]
        out["to_metal"][i, column] = 1 / world.metal_yield
        out["metal_made"][i, column] = 1.0
    for column in program.select("magnet", period=0):
        meta = program.meta[column]
        for e, fraction in world.recipes(meta["item"])[meta["variant"]].items():
            out["in_magnets"][index[e], column] = fraction
            out["magnet_lost"][index[e], column] = fraction * (1 / world.magnet_yield - 1)
    segments = {s.id: s for s in world.segments}
    for column in program.select(*FINAL_FAMILIES, "purchase", period=0):
        meta = program.meta[column]
        if meta["kind"] in ("demand", "purchase"):
            segment = segments[meta["segment"]]
            substituted = world.substitution_of(segment) is not None
            if substituted != (meta["kind"] == "purchase"):
                continue  # material reaches a segment with a substitute through its purchases
            commodity, item = segment.commodity, segment.item
        else:
            commodity, item = meta.get("commodity"), meta.get("item")
        if commodity not in ("oxide", "metal") or item not in index:
            continue
        sign = -1.0 if meta["kind"] == "stock_release" else 1.0
        name = "oxide_final" if commodity == "oxide" else "metal_final"
        weight = metal[index[item]] if commodity == "oxide" else 1.0
        out[name][index[item], column] = sign * weight
    model.cache.ledger = out
    return out


def carried_in(model: MarketModel) -> dict[str, np.ndarray]:
    """t of each element (metal basis) that private stocks carry into period 0, by ledger
    column (oxide stocks count against oxide use, metal stocks against metal use), and
    (``heavy``) what heavy concentrate carried in holds."""
    if model.cache.metal_per_oxide is None:
        elements = model.world.elements  # read from every mine's ore: once, like the ledger
        model.cache.metal_per_oxide = {e: element(e).metal_per_oxide for e in elements}
    factor = model.cache.metal_per_oxide
    index = {e: i for i, e in enumerate(factor)}
    oxide, metal = np.zeros(len(index)), np.zeros(len(index))
    for (commodity, item, _), level in model.inventory_initial.items():
        if item not in index:
            continue
        if commodity == "oxide":
            oxide[index[item]] += level * factor[item]
        elif commodity == "metal":
            metal[index[item]] += level
    heavy = np.zeros(len(index))
    for (mine, plant, _), level in model.heavy_initial.items():
        for e, share in heavy_content(model, mine, plant).items():
            heavy[index[e]] += level * share * factor[e]
    return {"oxide_final": oxide, "metal_final": metal, "heavy": heavy}


def ledger_table(model: MarketModel, values: np.ndarray) -> pd.DataFrame:
    """Per element, t of element: sourced (mined or recycled) + oxide stock and heavy
    concentrate carried in = lost in separation + heavy concentrate disposed or held + oxide
    used or stocked + fed to metal; metal made + metal stock carried in = in magnets +
    magnet-making losses + metal used or stocked."""
    totals = {name: matrix @ values for name, matrix in ledger_matrices(model).items()}
    initial = carried_in(model)
    table = pd.DataFrame({f"{k}_t": v for k, v in totals.items()})
    table.insert(0, "element", model.world.elements)
    # the stock carried in closes the balance, so the table carries it (one column per side)
    table.insert(2, "oxide_carried_in_t", initial["oxide_final"])
    table.insert(3, "heavy_carried_in_t", initial["heavy"])
    table["metal_carried_in_t"] = initial["metal_final"]
    oxide_residual = (
        totals["sourced"]
        + initial["oxide_final"]
        + initial["heavy"]
        - (
            totals["lost_in_separation"]
            + totals["heavy_disposed"]
            + totals["heavy_held"]
            + totals["oxide_final"]
            + totals["to_metal"]
        )
    )
    metal_residual = (
        totals["metal_made"]
        + initial["metal_final"]
        - (totals["in_magnets"] + totals["magnet_lost"] + totals["metal_final"])
    )
    table["residual_t"] = np.where(
        np.abs(oxide_residual) >= np.abs(metal_residual), oxide_residual, metal_residual
    )
    return table


def ledger_residual(model: MarketModel, values: np.ndarray) -> float:
    """Largest element-ledger residual (t), as ``ledger_table`` computes it, without tables
    (for year loops)."""
    if model.cache.residual is None:
        m = ledger_matrices(model)
        oxide = m["sourced"] - m["lost_in_separation"] - m["heavy_disposed"] - m["heavy_held"]
        oxide = oxide - m["oxide_final"] - m["to_metal"]
        metal = m["metal_made"] - m["in_magnets"] - m["magnet_lost"] - m["metal_final"]
        model.cache.residual = (sparse.csr_matrix(oxide), sparse.csr_matrix(metal))
    oxide_op, metal_op = model.cache.residual
    initial = carried_in(model)
    oxide = oxide_op @ values + initial["oxide_final"] + initial["heavy"]
    metal = metal_op @ values + initial["metal_final"]
    return float(max(np.abs(oxide).max(initial=0.0), np.abs(metal).max(initial=0.0)))


def clamping_allowance(model: MarketModel) -> float:
    """The most that clamping flows into their bounds can unbalance any sum of them (t): each
    flow moves by at most the tie-break's bound (``ties.py``)."""
    matrix = model.matrix()
    largest = float(np.abs(matrix.data).max(initial=0.0))
    return float(1.5 * TIE_BOUND_T * matrix.shape[1] * largest)


def check_conservation(model: MarketModel, values: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(balance, ledger) tables; raises ``MassBalanceError`` when either leaks."""
    balance, ledger = balance_table(model, values), ledger_table(model, values)
    scale = max(1.0, float(np.abs(values).max()))
    worst = max(float(balance["residual_t"].abs().max()), float(ledger["residual_t"].abs().max()))
    tolerance = BALANCE_TOLERANCE * scale + clamping_allowance(model)
    if worst > tolerance:
        raise MassBalanceError(f"market solution leaks {worst:.3g} t (tolerance {tolerance:.3g})")
    return balance, ledger


def subsidy_payments(model: MarketModel, values: np.ndarray) -> dict[str, tuple[float, float]]:
    """Per production-subsidy lever: (t subsidised, thousand USD paid) in period 0."""
    world, program = model.world, model.program
    nodes = {m.id: ("mine", m.location) for m in world.mines}
    nodes.update({p.id: (p.stage, p.location) for p in world.plants()})
    paid: dict[str, tuple[float, float]] = {s.id: (0.0, 0.0) for s in world.levers.subsidies}
    producing = ("concentrate", "heavy_concentrate", "metal", "magnet", "gallium")
    for column in program.select(*producing, period=0):
        level = float(values[column])
        if level <= 0:
            continue
        meta = program.meta[column]
        for key in ("mine", "plant"):
            if key not in meta or (key == "mine" and meta["kind"] != "concentrate"):
                continue
            stage, location = nodes[meta[key]]
            for lever in model.levers.subsidies_of(meta[key], stage, location, active_only=True):
                tonnes, kusd = paid[lever.id]
                paid[lever.id] = (tonnes + level, kusd + level * lever.usd_per_kg)
    return paid
