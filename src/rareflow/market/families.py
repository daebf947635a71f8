"""What the market LP is made of: every column family and row family, declared once.

The builder (``rareflow.market.program.Program``) refuses a column or row of an undeclared
family or with other index fields; code that reads a solved model selects columns by family
(``Program.select``) rather than by matching strings. Every family also has the index field
``period`` (0 = the year being cleared, 1.. = the years ahead of a rolling horizon).
``docs/market.md`` gives the math of each family by its symbol; a test checks that none is
missing there.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    """A set of columns (activities) or rows (constraints) indexed by the same fields."""

    name: str
    index: tuple[str, ...]
    unit: str
    symbol: str
    doc: str


def _table(*families: Family) -> dict[str, Family]:
    return {family.name: family for family in families}


COLUMNS = _table(
    Family(
        "concentrate",
        ("mine", "plant", "track", "origin", "destination"),
        "t REO of mixed concentrate / yr",
        "x^{conc}",
        "ore of a mine (or scrap of a recycler) separated at a plant; yields a[m,e] t of each "
        "separable element at the plant's place",
    ),
    Family(
        "heavy_concentrate",
        ("mine", "source", "plant", "track", "origin", "destination"),
        "t REO / yr",
        "x^{heavy}",
        "heavy-element concentrate a light-only plant left, separated at a heavy-capable plant",
    ),
    Family(
        "heavy_disposal",
        ("mine", "plant", "track"),
        "t REO / yr",
        "x^{hdisp}",
        "heavy concentrate left by a light-only plant and not separated (stored)",
    ),
    Family(
        "heavy_stock",
        ("mine", "plant", "track"),
        "t REO at period end",
        "S^{heavy}",
        "heavy concentrate of a light-only plant held at the end of the period for separation in "
        "a later one (at the storage cost; carried between years by the runner)",
    ),
    Family(
        "metal",
        ("plant", "item", "track", "location"),
        "t metal / yr",
        "x^{metal}",
        "oxide reduced to metal",
    ),
    Family(
        "magnet",
        ("plant", "item", "variant", "track", "location"),
        "t magnet / yr",
        "x^{mag}",
        "magnets of a grade made by one design variant (recipe, didymium, thrifted, heavy_free)",
    ),
    Family(
        "gallium", ("plant", "item", "track", "location"), "t Ga / yr", "x^{Ga}", "primary gallium"
    ),
    Family(
        "trade",
        ("commodity", "item", "origin", "destination", "track"),
        "t product / yr",
        "y",
        "shipment across a border (from China: from its export market CNX)",
    ),
    Family(
        "export",
        ("commodity", "item", "track"),
        "t product / yr",
        "z",
        "China's domestic market to its export market (where export quotas, taxes and licences "
        "act); the export market's price is the FOB China price",
    ),
    Family(
        "smuggle",
        ("commodity", "item"),
        "t product / yr",
        "z^{s}",
        "exports outside the quota, tax and licence system, at a cost and within a capacity",
    ),
    Family(
        "purchase",
        ("segment", "track"),
        "t product / yr",
        "b",
        "a segment with a substitute buys the product at its place",
    ),
    Family(
        "substitute",
        ("segment", "track"),
        "t product equivalent / yr",
        "s",
        "need of a segment met by a substitute technology (within built capacity)",
    ),
    Family(
        "demand",
        ("segment", "step", "track", "commodity", "item", "location"),
        "t product / yr",
        "d",
        "demand served on one step of a segment's stepwise demand curve",
    ),
    Family(
        "disposal",
        ("commodity", "item", "location", "track"),
        "t oxide / yr",
        "w",
        "surplus oxide stored or disposed of at a cost",
    ),
    Family(
        "downgrade",
        ("commodity", "item", "location", "track"),
        "t product / yr",
        "g",
        "material of a clean track used as ordinary material",
    ),
    Family(
        "inventory",
        ("commodity", "item", "location", "tranche"),
        "t product at year end",
        "S",
        "private stock held at the end of the period in one convenience-yield tranche",
    ),
    Family(
        "stock_release",
        ("lever", "commodity", "item", "location", "track"),
        "t product / yr",
        "r",
        "release from a state stockpile (lever)",
    ),
    Family(
        "stock_purchase",
        ("lever", "commodity", "item", "location", "track"),
        "t product / yr",
        "p",
        "purchase for a state stockpile below a price cap (lever)",
    ),
    Family(
        "offtake",
        ("lever", "plant", "commodity", "item", "location", "track"),
        "t product / yr",
        "o",
        "output taken by an offtake buyer at a fixed price",
    ),
    Family("floor", ("lever", "track"), "t oxide / yr", "f", "output paid a price-floor subsidy"),
    Family(
        "build",
        ("adjustment",),
        "t / yr of capacity",
        "u",
        "capacity added in the period to a state that adjusts over time (substitution, designs, "
        "undocumented mining, smuggling networks); it stays in later periods",
    ),
)

ROWS = _table(
    Family(
        "pool",
        ("commodity", "item", "location", "track"),
        "t product",
        "balance",
        "uses - supplies = initial stock; its dual is the price at the place (present value)",
    ),
    Family("capacity", ("node",), "t / yr", "cap", "capacity of a mine or plant"),
    Family(
        "heavy",
        ("mine", "plant", "track"),
        "t REO",
        "hbal",
        "heavy concentrate of a light-only plant (and any carried into the period): separated "
        "elsewhere, held for a later period or stored",
    ),
    Family(
        "domestic",
        ("item", "location"),
        "t magnet",
        "dom",
        "contract magnet demand <= output of the makers at its place",
    ),
    Family(
        "segment",
        ("segment", "track"),
        "t product",
        "seg",
        "a segment's need is met by purchases and substitutes",
    ),
    Family("offtake", ("lever",), "t", "otk", "offtake volume"),
    Family(
        "eligible", ("lever", "plant", "item"), "t", "elig", "offtake <= the named plants' output"
    ),
    Family("floor", ("lever",), "t", "flr", "floor volume <= the named plants' output"),
    Family(
        "quota",
        ("lever",),
        "t product",
        "quota",
        "matched flows together below an export quota's limit",
    ),
    Family(
        "licence",
        ("lever", "commodity", "item"),
        "t product",
        "lic",
        "one product's licensed flows <= (1 - refused share) x its flows in the last year "
        "without the licence",
    ),
    Family(
        "crackdown",
        ("lever",),
        "t REO / yr",
        "crack",
        "China's output outside the quota <= the limit of an enforcement campaign",
    ),
    Family(
        "adjustment",
        ("adjustment",),
        "t / yr",
        "adj",
        "use of an adjusting state <= its initial level + builds up to the period",
    ),
    Family(
        "headroom",
        ("adjustment",),
        "t / yr",
        "head",
        "builds over the horizon <= the state's maximum - its initial level (period 0 only)",
    ),
)


def check_columns(family: str, fields: set[str]) -> None:
    """Raise if ``family`` is not declared or ``fields`` are not its index (plus ``period``)."""
    _check(COLUMNS, "column", family, fields)


def check_row(family: str, length: int) -> None:
    """Raise if ``family`` is not a declared row family or a key has the wrong length."""
    declared = ROWS.get(family)
    if declared is None:
        raise KeyError(f"undeclared row family {family!r}")
    if length != len(declared.index) + 1:
        raise ValueError(
            f"row of family {family!r} needs (period, {', '.join(declared.index)}), "
            f"got {length} values"
        )


def _check(table: dict[str, Family], what: str, family: str, fields: set[str]) -> None:
    declared = table.get(family)
    if declared is None:
        raise KeyError(f"undeclared {what} family {family!r}")
    expected = {*declared.index, "period"}
    if fields != expected:
        raise ValueError(
            f"{what} of family {family!r} has fields {sorted(fields)}, expected {sorted(expected)}"
        )
