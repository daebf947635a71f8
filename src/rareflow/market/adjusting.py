"""What links the periods of a rolling horizon: private stocks and capacities that adjust.

**Private stocks** (``inventory`` columns): at every demand place, holders keep stocks of each
product in tranches of the place's annual reference use. A t held at the end of period p is a
use of p's balance and a supply of p+1's; it earns the tranche's convenience yield (the value of
having material at hand, higher under a supply threat) and costs carrying (storage, insurance);
interest is the discounting of the periods. Stock left at the end of the horizon is valued at the
product's reference price one year on: beyond the horizon, holders expect the long-run price.
So holders buy when the expected price gain plus the convenience yield beats the carrying cost
(the competitive storage model), and hoard when a threat raises the convenience yield.

**Adjusting capacities** (``build`` columns, ``adjustment`` rows): substitution of a segment,
design variants of magnets (thrifted, heavy-free), undocumented mining in China (limited while
an enforcement campaign, a ``crackdown`` lever, is in force) and smuggling networks. Use in
a period <= initial level + builds up to that period; builds are bounded a year and by a
maximum, cost once, and stay (the runner carries the level into the next year, so capacity
built in a price spike does not snap back: hysteresis).
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

import numpy as np

from rareflow.elements import element
from rareflow.market.effects import EffectKind
from rareflow.market.network import CHINA, Adjustable
from rareflow.market.program import INF, pool

if TYPE_CHECKING:
    from rareflow.market.model import MarketModel


def reference_use(model: MarketModel) -> dict[tuple[str, str, str], float]:
    """(commodity, item, place) -> t a year the place uses at reference: oxide demand there plus
    the oxide content of the magnets demanded there; magnets by grade."""
    world = model.world
    use: dict[tuple[str, str, str], float] = defaultdict(float)
    for segment in world.segments:
        key = (segment.commodity, segment.item, segment.location)
        use[key] += segment.reference_t
        if segment.commodity == "magnet":
            for e, fraction in world.grades[segment.item].items():
                metal = segment.reference_t * fraction / world.magnet_yield / world.metal_yield
                use[("oxide", e, segment.location)] += metal * element(e).oxide_per_metal
    return dict(use)


def add_inventories(model: MarketModel) -> None:
    """Private stock columns of every period, their threat effects, and the initial stocks."""
    world = model.world
    spec = world.inventories
    if spec is None:
        return
    delta = 1.0 / (1.0 + world.discount_rate)
    last = model.periods - 1
    for (commodity, item, place), annual in sorted(reference_use(model).items()):
        if commodity not in spec.commodities or annual <= 0:
            continue
        price = world.reference_prices.get((commodity, item))
        if price is None or pool(commodity, item, place, 0, 0) not in model.program.rows:
            continue
        contents = model.levers.contents(commodity, item)
        threats = [
            t
            for t in world.levers.threats
            if set(t.elements) & contents and world.matches(place, t.places)
        ]
        for tranche, (share, convenience, premium) in enumerate(spec.tranches):
            value = (convenience - spec.carrying_pct) / 100.0 * price
            for period in range(model.periods):
                entries = [(pool(commodity, item, place, 0, period), 1.0)]
                terminal = 0.0
                if period < last:
                    entries.append((pool(commodity, item, place, 0, period + 1), -1.0))
                else:
                    terminal = delta * price
                index = {"commodity": commodity, "item": item, "location": place,
                         "tranche": tranche, "period": period}  # fmt: skip
                column = model.add("inventory", index, value + terminal, entries, share * annual)
                for threat in threats:
                    extra = premium / 100.0 * price * threat.level
                    model.effect(threat.id, EffectKind.COST, column, period, extra, 0.0)
        model.inventory_base[(commodity, item, place)] = spec.tranches[0][0] * annual


def adjustments_of(model: MarketModel) -> dict[str, tuple[Adjustable, np.ndarray]]:
    """Every adjusting capacity of the world: its spec and the columns (all periods) it limits,
    with a weight per column (t of capacity used per unit)."""
    world, program = model.world, model.program
    found: dict[str, tuple[Adjustable, list[int]]] = {}
    segments = {s.id: s for s in world.segments}
    by_segment: dict[str, list[int]] = defaultdict(list)
    for column in program.select("substitute"):
        by_segment[program.meta[column]["segment"]].append(int(column))
    for segment_id, columns in by_segment.items():
        segment = segments[segment_id]
        substitution = world.substitution_of(segment)
        assert substitution is not None
        spec = substitution
        q0, p0 = segment.reference_t, segment.reference_price
        found[f"substitution:{segment_id}"] = (
            Adjustable(
                0.0, spec.max_share * q0, spec.rate * q0, spec.build_cost_factor * p0, spec.reversal
            ),
            columns,
        )
    magnets = program.select("magnet")
    for variant, design in world.designs.items():
        columns = [int(c) for c in magnets if program.meta[c]["variant"] == variant]
        found[f"design:{variant}"] = (design, columns)
    if world.smuggling is not None:
        found["smuggling"] = (world.smuggling.capacity, [int(c) for c in program.select("smuggle")])
    concentrate = program.select("concentrate")
    for mine in world.mines:
        if mine.adjustable is not None:
            columns = [int(c) for c in concentrate if program.meta[c]["mine"] == mine.id]
            found[f"mine:{mine.id}"] = (mine.adjustable, columns)
    return {k: (spec, np.asarray(cols, dtype=np.int64)) for k, (spec, cols) in found.items()}


def add_adjustments(model: MarketModel) -> None:
    """Rows limiting each adjusting capacity's use per period, and its build columns."""
    program = model.program
    for name, (spec, columns) in adjustments_of(model).items():
        rows: list[int] = []
        builds: list[int] = []
        by_period: list[list[int]] = [[] for _ in range(model.periods)]
        headroom = program.row(("headroom", 0, name), -INF, max(0.0, spec.max_t - spec.initial_t))
        for period in range(model.periods):
            row = program.row(("adjustment", period, name), -INF, spec.initial_t)
            rows.append(row)
            for column in columns:
                if program.meta[column]["period"] == period:
                    program.entry(row, int(column), 1.0)
                    by_period[period].append(int(column))
        for period in range(model.periods):
            entries = [
                (("adjustment", later, name), -1.0) for later in range(period, model.periods)
            ]
            entries.append((("headroom", 0, name), 1.0))
            build = model.add(
                "build",
                {"adjustment": name, "period": period},
                -spec.build_cost_usd_per_kg,
                entries,
                spec.rate_t,
            )
            builds.append(build)
        model.adjustments[name] = _record(spec, rows, builds, headroom, by_period)
    add_crackdowns(model)


def hidden_mining(model: MarketModel) -> list[str]:
    """Adjusting states of China's mining outside the quota (what a crackdown acts on)."""
    return [
        f"mine:{mine.id}"
        for mine in model.world.mines
        if mine.adjustable is not None and mine.location == CHINA
    ]


def add_crackdowns(model: MarketModel) -> None:
    """Enforcement campaigns: per campaign and period, a row limiting China's output outside the
    quota to the campaign's limit and a switch that stops builds of that capacity, both only
    while the campaign is in force. The capacity itself is kept (pits are idled, not
    destroyed), so output outside the quota returns when the campaign ends."""
    program = model.program
    states = [model.adjustments[name] for name in hidden_mining(model)]
    for crackdown in model.world.levers.crackdowns:
        for period in range(model.periods):
            row = program.row(("crackdown", period, crackdown.id), -INF, INF)
            model.effect(crackdown.id, EffectKind.ROW_UPPER, row, period, crackdown.limit_t, INF)
            for state in states:
                for column in state["columns"][period]:
                    program.entry(row, int(column), 1.0)
                model.effect(
                    crackdown.id, EffectKind.SWITCH, state["builds"][period], period, 0.0, 1.0
                )


def _record(
    spec: Adjustable, rows: list[int], builds: list[int], headroom: int, columns: list[list[int]]
) -> dict[str, Any]:
    return {"spec": spec, "rows": rows, "builds": builds, "headroom": headroom,
            "columns": columns, "level": spec.initial_t}  # fmt: skip


def set_adjustment_level(model: MarketModel, name: str, level: float) -> None:
    """The state's level at the start of the horizon (what earlier years built)."""
    record = model.adjustments[name]
    record["level"] = level
    spec: Adjustable = record["spec"]
    for row in record["rows"]:
        model.row_upper[row] = level
    model.row_upper[record["headroom"]] = max(0.0, spec.max_t - level)


def built(model: MarketModel, name: str, values: np.ndarray) -> float:
    """Capacity added in period 0 (kept by the next year)."""
    return float(values[model.adjustments[name]["builds"][0]])


def set_initial_stocks(model: MarketModel, stocks: dict[tuple[str, str, str], float]) -> None:
    """Private stocks carried into period 0 (t): the right-hand side of its balances."""
    model.inventory_initial = dict(stocks)
    for (commodity, item, place), level in stocks.items():
        row = model.program.rows[pool(commodity, item, place, 0, 0)]
        model.row_lower[row] = level
        model.row_upper[row] = level
