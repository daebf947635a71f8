"""Element constants: oxide factors against published stoichiometric conversion factors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rareflow import elements
from rareflow.elements import ELEMENTS, RARE_EARTHS, UnknownElementError, parse_symbol

# Element-to-oxide conversion factors as tabulated in geochemistry references (metal mass
# fraction of the oxide, 4 decimals); they are computed here from atomic masses, not typed in.
PUBLISHED_METAL_PER_OXIDE = {
    "Nd": 0.8574,  # Nd2O3
    "La": 0.8527,  # La2O3
    "Ce": 0.8141,  # CeO2
    "Pr": 0.8277,  # Pr6O11
    "Tb": 0.8502,  # Tb4O7
    "Dy": 0.8713,  # Dy2O3
    "Y": 0.7874,  # Y2O3
    "Sc": 0.6520,  # Sc2O3
    "Ga": 0.7439,  # Ga2O3
}


@pytest.mark.parametrize(("symbol", "factor"), PUBLISHED_METAL_PER_OXIDE.items())
def test_metal_per_oxide_matches_published_factors(symbol: str, factor: float) -> None:
    assert ELEMENTS[symbol].metal_per_oxide == pytest.approx(factor, abs=6e-5)


def test_nd2o3_by_hand() -> None:
    # 2 x 144.242 / (2 x 144.242 + 3 x 15.999) = 288.484 / 336.481
    assert elements.oxide_to_metal(1.0, "Nd") == pytest.approx(288.484 / 336.481, rel=1e-12)
    assert elements.metal_to_oxide(0.8574, "Nd") == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize(
    ("symbol", "formula"),
    [
        ("Ce", "CeO2"),
        ("Pr", "Pr6O11"),
        ("Tb", "Tb4O7"),
        ("Nd", "Nd2O3"),
        ("Y", "Y2O3"),
        ("Ga", "Ga2O3"),
        ("Sc", "Sc2O3"),
    ],
)
def test_oxide_formulas(symbol: str, formula: str) -> None:
    assert ELEMENTS[symbol].oxide_formula == formula


def test_seventeen_rare_earths_plus_gallium() -> None:
    assert len(RARE_EARTHS) == 17
    assert set(RARE_EARTHS) == set(ELEMENTS) - {"Ga"}
    assert [ELEMENTS[s].atomic_number for s in RARE_EARTHS] == sorted([21, 39, *range(57, 72)])


@pytest.mark.parametrize("text", ["nd", "ND", " Nd ", "neodymium", "NEODYMIUM"])
def test_parse_is_case_insensitive(text: str) -> None:
    assert parse_symbol(text) == "Nd"


def test_unknown_symbol_message_names_value_and_choices() -> None:
    with pytest.raises(UnknownElementError) as info:
        parse_symbol("Xx")
    message = str(info.value)
    assert "'Xx'" in message and "La" in message and "case-insensitive" in message


def test_unknown_symbol_suggests_nearest() -> None:
    with pytest.raises(UnknownElementError, match="Did you mean Dy"):
        parse_symbol("dysprosim")


def test_usgs_grouping() -> None:
    assert elements.group_of("Gd", "usgs") == "light"
    assert elements.group_of("Tb", "usgs") == "heavy"
    assert elements.group_of("Y", "usgs") == "heavy"
    assert elements.group_of("Sc", "usgs") == "unclassified"
    assert elements.group_of("Ga") == "not_rare_earth"
    assert elements.elements_in_group("light", "usgs") == [
        "La",
        "Ce",
        "Pr",
        "Nd",
        "Pm",
        "Sm",
        "Eu",
        "Gd",
    ]


def test_china_grouping_covers_announcement_18_as_medium_or_heavy() -> None:
    # MOFCOM Announcement 18 of 2025 calls its seven elements "medium and heavy" rare earths.
    for symbol in ("Sm", "Gd", "Tb", "Dy", "Lu", "Sc", "Y"):
        assert elements.group_of(symbol, "china") in ("medium", "heavy")
    assert elements.group_of("Nd", "china") == "light"


def test_unknown_convention() -> None:
    with pytest.raises(ValueError, match="unknown grouping convention"):
        elements.group_of("Nd", "iupac")


@given(st.sampled_from(sorted(ELEMENTS)), st.floats(min_value=0, max_value=1e9))
def test_oxide_metal_round_trip(symbol: str, mass: float) -> None:
    back = elements.oxide_to_metal(elements.metal_to_oxide(mass, symbol), symbol)
    assert back == pytest.approx(mass, rel=1e-12, abs=1e-12)
