"""Plain JSON values from results: NaN/NA as null, numpy scalars as numbers, dates as ISO text."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd


def jsonable(value: Any, finite: bool = False) -> Any:
    """``value`` with only JSON types; ``finite`` also turns infinities into null (strict JSON
    parsers refuse ``Infinity``)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v, finite) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v, finite) for v in value]
    if isinstance(value, float) and (math.isnan(value) or (finite and math.isinf(value))):
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        return jsonable(value.item(), finite)
    if value is pd.NA or value is pd.NaT:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
