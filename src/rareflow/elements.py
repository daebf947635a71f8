"""The 17 rare earths and gallium: symbols, atomic masses, oxide forms and groupings.

Oxide <-> metal factors are computed from atomic masses, never typed in, so that a
change of atomic-mass table changes every factor consistently. Atomic masses are the
IUPAC/CIAAW standard atomic weights (source id ``iupac_ciaaw_2021``); promethium has no
stable isotope and takes the mass number of its longest-lived isotope, 145.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

OXYGEN_MASS = 15.999
"""Standard atomic weight of oxygen (conventional value), g/mol."""

ATOMIC_MASS_SOURCE = "iupac_ciaaw_2021"

Group = Literal["light", "medium", "heavy", "unclassified", "not_rare_earth"]


class UnknownElementError(ValueError):
    """Raised for a symbol that is not one of rareflow's elements."""


@dataclass(frozen=True)
class Element:
    """One element with its usual commercial oxide (e.g. Nd -> Nd2O3, Ce -> CeO2)."""

    symbol: str
    name: str
    atomic_number: int
    atomic_mass: float
    metal_atoms: int
    """Metal atoms per formula unit of the usual oxide (2 in Nd2O3, 6 in Pr6O11)."""
    oxygen_atoms: int
    """Oxygen atoms per formula unit of the usual oxide (3 in Nd2O3, 11 in Pr6O11)."""
    is_rare_earth: bool = True

    @property
    def oxide_formula(self) -> str:
        """Formula of the usual oxide, e.g. ``Nd2O3``, ``CeO2``, ``Tb4O7``."""
        metal = self.symbol + (str(self.metal_atoms) if self.metal_atoms > 1 else "")
        oxygen = "O" + (str(self.oxygen_atoms) if self.oxygen_atoms > 1 else "")
        return metal + oxygen

    @property
    def oxide_molar_mass(self) -> float:
        """Molar mass of one formula unit of the usual oxide, g/mol."""
        return self.metal_atoms * self.atomic_mass + self.oxygen_atoms * OXYGEN_MASS

    @property
    def metal_per_oxide(self) -> float:
        """Mass of metal in one unit mass of oxide (Nd2O3 -> 0.8574)."""
        return self.metal_atoms * self.atomic_mass / self.oxide_molar_mass

    @property
    def oxide_per_metal(self) -> float:
        """Mass of oxide that holds one unit mass of metal (Nd -> 1.1664)."""
        return 1.0 / self.metal_per_oxide

    def group(self, convention: str = "usgs") -> Group:
        """Light / medium / heavy group under a named convention (see ``GROUPING_CONVENTIONS``)."""
        return group_of(self.symbol, convention)


def _el(symbol: str, name: str, z: int, mass: float, metal: int = 2, oxygen: int = 3) -> Element:
    return Element(symbol, name, z, mass, metal, oxygen)


ELEMENTS: dict[str, Element] = {
    e.symbol: e
    for e in (
        _el("Sc", "scandium", 21, 44.955907),
        _el("Y", "yttrium", 39, 88.905838),
        _el("La", "lanthanum", 57, 138.90547),
        _el("Ce", "cerium", 58, 140.116, 1, 2),
        _el("Pr", "praseodymium", 59, 140.90766, 6, 11),
        _el("Nd", "neodymium", 60, 144.242),
        _el("Pm", "promethium", 61, 145.0),
        _el("Sm", "samarium", 62, 150.36),
        _el("Eu", "europium", 63, 151.964),
        _el("Gd", "gadolinium", 64, 157.249),
        _el("Tb", "terbium", 65, 158.925354, 4, 7),
        _el("Dy", "dysprosium", 66, 162.500),
        _el("Ho", "holmium", 67, 164.930329),
        _el("Er", "erbium", 68, 167.259),
        _el("Tm", "thulium", 69, 168.934219),
        _el("Yb", "ytterbium", 70, 173.045),
        _el("Lu", "lutetium", 71, 174.9668),
        Element("Ga", "gallium", 31, 69.723, 2, 3, is_rare_earth=False),
    )
}

RARE_EARTHS: tuple[str, ...] = tuple(
    s for s, e in sorted(ELEMENTS.items(), key=lambda kv: kv[1].atomic_number) if e.is_rare_earth
)
"""The 17 rare-earth symbols in order of atomic number (Sc, Y, La ... Lu)."""

LANTHANIDES: tuple[str, ...] = tuple(s for s in RARE_EARTHS if ELEMENTS[s].atomic_number >= 57)


@dataclass(frozen=True)
class GroupingConvention:
    """A named light/heavy grouping of the rare earths, with the source that defines it."""

    name: str
    description: str
    source: str
    groups: dict[str, Group]


def _groups(light: str, medium: str, heavy: str, unclassified: str = "") -> dict[str, Group]:
    table: dict[str, Group] = {}
    for names, group in ((light, "light"), (medium, "medium"), (heavy, "heavy")):
        for symbol in names.split():
            table[symbol] = group  # type: ignore[assignment]
    for symbol in unclassified.split():
        table[symbol] = "unclassified"
    return table


GROUPING_CONVENTIONS: dict[str, GroupingConvention] = {
    "usgs": GroupingConvention(
        name="usgs",
        description=(
            "USGS: light = La through Gd (Z 57-64); heavy = Tb through Lu (Z 65-71) plus Y; "
            "Sc is neither."
        ),
        source="usgs_cordier_ree_2021",
        groups=_groups("La Ce Pr Nd Pm Sm Eu Gd", "", "Tb Dy Ho Er Tm Yb Lu Y", "Sc"),
    ),
    "china": GroupingConvention(
        name="china",
        description=(
            "Chinese industry three-group split by P204 extraction (light La-Nd; medium Sm, Eu, "
            "Gd; heavy Tb-Lu plus Y), with Sc counted among the heavy as in MOFCOM's 2025 list "
            "of 'medium and heavy' rare earths (Sm, Gd, Tb, Dy, Lu, Sc, Y)."
        ),
        source="china_ree_grouping_baike",
        groups=_groups("La Ce Pr Nd Pm", "Sm Eu Gd", "Tb Dy Ho Er Tm Yb Lu Y Sc"),
    ),
}
DEFAULT_GROUPING = "usgs"


def parse_symbol(text: str) -> str:
    """Return the canonical symbol for ``text`` (case-insensitive symbol or English name).

    Raises ``UnknownElementError`` with the accepted symbols and the nearest match.
    """
    key = text.strip().lower()
    for symbol, element in ELEMENTS.items():
        if key in (symbol.lower(), element.name):
            return symbol
    choices = [s.lower() for s in ELEMENTS] + [e.name for e in ELEMENTS.values()]
    close = difflib.get_close_matches(key, choices, n=1)
    hint = ""
    if close:
        match = next(s for s, e in ELEMENTS.items() if close[0] in (s.lower(), e.name))
        hint = f" Did you mean {match}?"
    accepted = ", ".join(ELEMENTS)
    raise UnknownElementError(
        f"unknown element symbol {text.strip()!r}; expected one of {accepted} "
        f"(case-insensitive).{hint}"
    )


def parse_symbols(text: str | Iterable[str], separator: str = ";") -> list[str]:
    """Parse a ``;``-separated string (or an iterable) of symbols; empty items are skipped."""
    items = text.split(separator) if isinstance(text, str) else list(text)
    return [parse_symbol(item) for item in items if item.strip()]


def element(symbol: str) -> Element:
    """Look up an element by symbol or name, case-insensitively."""
    return ELEMENTS[parse_symbol(symbol)]


def oxide_to_metal(mass_oxide: float, symbol: str) -> float:
    """Mass of metal contained in ``mass_oxide`` of the element's usual oxide."""
    return mass_oxide * element(symbol).metal_per_oxide


def metal_to_oxide(mass_metal: float, symbol: str) -> float:
    """Mass of the usual oxide that contains ``mass_metal`` of the element."""
    return mass_metal * element(symbol).oxide_per_metal


def group_of(symbol: str, convention: str = DEFAULT_GROUPING) -> Group:
    """Group of an element under ``convention`` ('usgs' or 'china'); Ga is 'not_rare_earth'."""
    canonical = parse_symbol(symbol)
    if not ELEMENTS[canonical].is_rare_earth:
        return "not_rare_earth"
    try:
        table = GROUPING_CONVENTIONS[convention].groups
    except KeyError:
        names = ", ".join(GROUPING_CONVENTIONS)
        raise ValueError(
            f"unknown grouping convention {convention!r}; expected one of {names}"
        ) from None
    return table[canonical]


def elements_in_group(group: Group, convention: str = DEFAULT_GROUPING) -> list[str]:
    """Symbols of a group under ``convention``, in order of atomic number."""
    return [s for s in RARE_EARTHS if group_of(s, convention) == group]
