"""What stock holders expect a product to be worth after the horizon (``market.expectations``).

Private stock left at the end of the last period of a year's horizon is valued at the price
holders expect one year on (``market/adjusting.py``). The ``reference`` rule values it at the
product's reference price p0: beyond what they foresee, holders expect the long-run price, so
stocks smooth prices. The ``extrapolative`` rule values it at

    E = p0^(1 - w) x p^w x (p / p_before)^trend,   clamped to the demand curve's price range,

where p and p_before are the run's own prices at the place in the last two years (period 0 of
each year's clearing, never published prices): holders who saw prices rise expect part of the
rise to continue and buy ahead of it, the speculation of 2010-2011 reported in China and
Japan. It is a modelling choice, switchable per scenario and in ``rareflow backcast``; its fit
on the 2009-2016 episode is in docs/validation.md.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from rareflow.dataset.market_parameters import ExpectationSpec
from rareflow.market.model import MarketModel
from rareflow.market.program import pool
from rareflow.scenario.schema import Expectations

DEFAULT_PRICE_RANGE = (0.15, 30.0)
"""Multiples of p0 spanned by the demand curves when the dataset does not say."""


@dataclass(frozen=True)
class ExpectationRule:
    """The rule a run uses, with its numbers settled."""

    rule: str = "reference"
    weight: float = 1.0
    trend: float = 0.0


def expectation_rule(
    chosen: Expectations | None, dataset: ExpectationSpec | None
) -> ExpectationRule:
    """The scenario's (or back-cast's) choice, numbers it leaves out taken from the dataset;
    with neither, holders expect the reference price. A choice with no dataset rule to fill
    its gaps takes last year's price with no trend (weight 1, trend 0)."""
    if chosen is None:
        if dataset is None:
            return ExpectationRule()
        return ExpectationRule(dataset.rule, dataset.weight.value, dataset.trend.value)
    weight = chosen.weight if chosen.weight is not None else (
        dataset.weight.value if dataset is not None else 1.0
    )  # fmt: skip
    trend = chosen.trend if chosen.trend is not None else (
        dataset.trend.value if dataset is not None else 0.0
    )  # fmt: skip
    return ExpectationRule(chosen.rule, weight, trend)


def expected_price(
    reference: float,
    history: list[float],
    rule: ExpectationRule,
    price_range: tuple[float, float] = DEFAULT_PRICE_RANGE,
) -> float:
    """The price holders expect after the horizon from the place's last prices (oldest first);
    one place of ``expected_prices``."""
    seen = np.array([np.nan, np.nan, *history][-2:], dtype=float).reshape(2, 1)
    return float(expected_prices(np.array([reference]), seen, rule, price_range)[0])


class StockExpectations:
    """Sets the value of the stock left after the horizon, year by year, from the run's prices."""

    def __init__(
        self,
        model: MarketModel,
        rule: ExpectationRule,
        price_range: tuple[float, float] = DEFAULT_PRICE_RANGE,
    ) -> None:
        self.model, self.rule, self.price_range = model, rule, price_range
        program, last = model.program, model.periods - 1
        delta = 1.0 / (1.0 + model.world.discount_rate)
        self.weight = model.discount[last] * delta
        """Objective weight of a t held after the horizon per USD/kg of expected price."""
        by_place: dict[tuple[str, str, str], list[int]] = defaultdict(list)
        for column in program.select("inventory", period=last):
            meta = program.meta[column]
            by_place[(meta["commodity"], meta["item"], meta["location"])].append(int(column))
        self.keys = list(by_place)
        """(commodity, item, place) of every place that holds stock, in a fixed order."""
        self.columns = np.asarray([c for k in self.keys for c in by_place[k]], dtype=np.int64)
        self.owner = np.asarray(
            [i for i, k in enumerate(self.keys) for _ in by_place[k]], dtype=np.int64
        )
        """Last-period stock columns and the index of the key each belongs to."""
        self.rows = np.asarray([program.rows[pool(*key, 0)] for key in self.keys], dtype=np.int64)
        """Period-0 balance row of each key: its dual is the price."""
        prices = model.world.reference_prices
        self.reference = np.asarray([prices[(k[0], k[1])] for k in self.keys], dtype=float)
        self.base = model.base_cost[self.columns].copy()
        self.seen = np.full((2, len(self.keys)), np.nan)
        """Prices seen at each key: the year before last (row 0) and last year (row 1)."""

    @property
    def history(self) -> dict[tuple[str, str, str], list[float]]:
        """Each key's prices seen so far (oldest first, at most two)."""
        return {
            key: [float(p) for p in self.seen[:, i] if not np.isnan(p)]
            for i, key in enumerate(self.keys)
        }

    def remember(self, key: tuple[str, str, str], prices: list[float]) -> None:
        """Set the prices a key has seen (oldest first; the last two count)."""
        i = self.keys.index(key)
        kept = [np.nan, np.nan, *prices][-2:]
        self.seen[:, i] = kept

    def reset(self) -> None:
        """A new run: no prices seen yet, stocks valued at the reference price."""
        self.seen[:] = np.nan
        self.model.base_cost[self.columns] = self.base

    def apply(self) -> None:
        """Value the stock left after this year's horizon at the expected price."""
        if self.rule.rule == "reference":
            return
        expected = expected_prices(self.reference, self.seen, self.rule, self.price_range)
        shift = self.weight * (expected - self.reference)
        self.model.base_cost[self.columns] = self.base + shift[self.owner]

    def observe(self, duals: np.ndarray) -> None:
        """Record this year's prices (period 0) at every place that holds stock."""
        self.seen[0] = self.seen[1]
        self.seen[1] = np.maximum(0.0, duals[self.rows])


def expected_prices(
    reference: np.ndarray,
    seen: np.ndarray,
    rule: ExpectationRule,
    price_range: tuple[float, float] = DEFAULT_PRICE_RANGE,
) -> np.ndarray:
    """``expected_price`` for many places at once: ``seen`` holds the year before last's and last
    year's prices (NaN where not seen)."""
    before, last = seen
    usable = ~np.isnan(last) & (last > 0.0) & (reference > 0.0)
    if rule.rule == "reference" or not usable.any():
        return reference.copy()
    safe_last = np.where(usable, last, 1.0)
    has_before = ~np.isnan(before) & (before > 0.0)
    trend = np.where(usable & has_before, safe_last / np.where(has_before, before, 1.0), 1.0)
    safe_reference = np.where(reference > 0.0, reference, 1.0)
    expected = safe_reference ** (1.0 - rule.weight) * safe_last**rule.weight * trend**rule.trend
    low, high = price_range
    expected = np.clip(expected, low * safe_reference, high * safe_reference)
    return np.where(usable, expected, reference)
