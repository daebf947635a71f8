"""Non-rare-earth ions that ride along in a cascade's feed: optional components of the
mass-action model.

An ion M^z+ of an acidic extractant binds z dimers and releases z protons, M^z+ + z (HA)2(o) =
M(HA2)_z(o) + z H+, so its D = K F^z / h^z moves with acid and loading more steeply than a
trivalent RE's when z = 4 and less when z = 2 (Ca), unless its constant's row in the dataset
says otherwise (Th(IV) in chloride: 2 protons, 3 dimers; Al(III): 3 and 2.5). Al and Th ship
with P507/HCl; Fe and Ca need the file's ``log_k``. Their amounts count in a product's
absolute purity, not in its REO (reagents per kg of REO).
"""

from __future__ import annotations

from rareflow.elements import UnknownElementError, parse_symbol

IMPURITY_CHARGES = {"Fe": 3, "Al": 3, "Ca": 2, "Th": 4}
"""Charge of the ion in acid chloride leach liquors: Fe(III), Al(III), Ca(II), Th(IV)."""
IMPURITY_NAMES = {"Fe": "iron", "Al": "aluminium", "Ca": "calcium", "Th": "thorium"}
RE_CHARGE = 3


def parse_component(text: str) -> str:
    """A rare earth's symbol (``parse_symbol``) or one of the impurities (symbol or name)."""
    key = text.strip().lower()
    for symbol, name in IMPURITY_NAMES.items():
        if key in (symbol.lower(), name, "aluminum" if symbol == "Al" else name):
            return symbol
    try:
        return parse_symbol(text)
    except UnknownElementError as error:
        raise UnknownElementError(f"{error} Impurities: {', '.join(IMPURITY_CHARGES)}.") from None


def is_impurity(symbol: str) -> bool:
    return symbol in IMPURITY_CHARGES


def charge_of(symbol: str) -> int:
    return IMPURITY_CHARGES.get(symbol, RE_CHARGE)
