"""Why a market year cannot clear: the constraints that together make it impossible.

Every demand can go unmet and every stock can be held, so the LP is feasible whenever its bounds
are; an infeasible year comes from bounds that contradict each other (a limit below what a
contract must move, a capacity or a limit below zero). HiGHS finds an irreducible infeasible
subset (IIS): a set of rows and column bounds that cannot all hold, though any one of them
dropped makes the rest feasible. It is named here in the model's own terms (family, index,
bound), so the message points at the lever or input to change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import highspy

from rareflow.market.families import COLUMNS, ROWS

if TYPE_CHECKING:
    from rareflow.market.model import MarketModel

SHOWN = 8
"""Constraints of the subset named in a message (the rest are counted)."""

_LOWER, _UPPER, _BOXED = 2, 3, 4
"""HiGHS's IIS bound codes (``HighsIisBound``): which side of a bound is in the subset."""


def explain_infeasible(model: MarketModel) -> str:
    """One sentence naming the constraints that make the solved-infeasible model impossible
    (empty if HiGHS cannot give a subset)."""
    try:
        status, iis = model.highs.getIis()
    except (AttributeError, RuntimeError):  # an older highspy without IIS
        return ""
    if status == highspy.HighsStatus.kError or not iis.valid_:
        return ""
    keys = {index: key for key, index in model.program.rows.items()}
    parts = [
        _row(keys[int(r)], int(bound), model, int(r))
        for r, bound in zip(iis.row_index_, iis.row_bound_, strict=False)
        if int(r) in keys
    ]
    parts += [
        _column(model.program.meta[int(c)], int(bound), model, int(c))
        for c, bound in zip(iis.col_index_, iis.col_bound_, strict=False)
        if int(bound) in (_UPPER, _BOXED) or model.upper[int(c)] == 0.0
    ]
    if not parts:
        return ""
    more = len(parts) - SHOWN
    shown = "; ".join(parts[:SHOWN]) + (f"; and {more} more" if more > 0 else "")
    return f"these constraints cannot all hold: {shown}"


def _fields(names: tuple[str, ...], values: Any) -> str:
    return ", ".join(f"{name} {value}" for name, value in zip(names, values, strict=True))


def _row(key: tuple[Any, ...], bound: int, model: MarketModel, index: int) -> str:
    family = ROWS[key[0]]
    where = _fields(family.index, key[2:])
    lower, upper = model.row_lower[index], model.current_row_upper[index]
    if lower == upper:
        limit = f"= {lower:,.6g} {family.unit}"
    elif bound == _LOWER:
        limit = f">= {lower:,.6g} {family.unit}"
    else:
        limit = f"<= {upper:,.6g} {family.unit}"
    return f"{family.name} ({where}, period {key[1]}) {limit}: {family.doc}"


def _column(meta: dict[str, Any], bound: int, model: MarketModel, index: int) -> str:
    family = COLUMNS[meta["kind"]]
    where = _fields(family.index, [meta[name] for name in family.index])
    return (
        f"{family.name} ({where}, period {meta['period']}) <= "
        f"{model.upper[index]:,.6g} {family.unit}: {family.doc}"
    )
