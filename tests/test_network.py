"""Networks of mass-action cascades: two linked blocks are exactly the cascade they make
together; hyperlinked networks with splits, strip sections and recycles conserve every element
and the protons; bad networks are refused with the reason; the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rareflow.process.massaction_solver import solve_mass_action
from rareflow.process.network import Block, Link, Network, solve_network
from rareflow.process.theory import SpecError

from .conftest import write
from .test_cli import run
from .test_mass_action import _pr_nd

LOG_K = np.array([-0.01, 0.18])
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "hyperlinked_network.yaml"
FEED = {"feed_m3_h": 1.0, "feed_mol_per_l": 0.05, "feed_fractions": (0.25, 0.75),
        "feed_acid_mol_per_l": 0.01}  # fmt: skip


def _split(upper_n: int) -> Network:
    """The 15 + 15 cascade of the mass-action tests cut into two blocks."""
    upper = Block("upper", n=upper_n, m=15, organic_m3_h=1.0, scrub_m3_h=0.1,
                  scrub_acid_mol_per_l=3.0, **FEED)  # type: ignore[arg-type]  # fmt: skip
    lower = Block("lower", n=15 - upper_n, organic_m3_h=1.0)
    links = (Link("upper", "raffinate", "lower"), Link("lower", "loaded_organic", "upper"))
    return Network(("Pr", "Nd"), LOG_K, 1.0, (upper, lower), links)


@pytest.mark.parametrize("upper_n", [3, 9, 14])
def test_two_linked_blocks_are_the_cascade_they_make(upper_n: int) -> None:
    single = solve_mass_action(_pr_nd())
    outlets = solve_network(_split(upper_n)).outlets()
    assert outlets["lower.raffinate"] == pytest.approx(single.raffinate(), rel=1e-8)
    assert outlets["upper.loaded_organic"] == pytest.approx(single.extract(), rel=1e-8)


def test_a_hyperlinked_network_keeps_every_balance() -> None:
    # a first split whose loaded organic runs on into a second block, a raffinate shared
    # between a second cascade and the outside, a strip section with reflux and recycle
    first = Block("first", n=8, m=6, organic_m3_h=1.0, scrub_m3_h=0.1,
                  scrub_acid_mol_per_l=2.0, **FEED)  # type: ignore[arg-type]  # fmt: skip
    second = Block("second", n=6, m=4, p=4, organic_m3_h=1.0, strip_m3_h=0.2,
                   strip_acid_mol_per_l=4.0, reflux=0.4, scrub_m3_h=0.05,
                   scrub_acid_mol_per_l=1.0, recycle_organic=True)  # fmt: skip
    third = Block("third", n=5, organic_m3_h=0.5)
    links = (
        Link("first", "loaded_organic", "second"),
        Link("first", "raffinate", "third", share=0.5),
        Link("second", "raffinate", "third"),
    )
    solution = solve_network(Network(("Pr", "Nd"), LOG_K, 1.0, (first, second, third), links))
    assert set(solution.outlets()) == {"first.raffinate", "second.strip_liquor",
                                       "third.raffinate", "third.loaded_organic"}  # fmt: skip
    assert solution.closure().max() < 1e-10
    assert solution.proton_closure() < 1e-10


def test_bad_networks_are_refused() -> None:
    upper = Block("a", n=3, organic_m3_h=1.0, **FEED)  # type: ignore[arg-type]
    lower = Block("b", n=3, organic_m3_h=2.0)
    with pytest.raises(SpecError, match="loop"):
        Network(("Pr", "Nd"), LOG_K, 1.0, (upper, lower),
                (Link("a", "raffinate", "b"), Link("b", "raffinate", "a")))  # fmt: skip
    with pytest.raises(SpecError, match="unknown block"):
        Network(("Pr", "Nd"), LOG_K, 1.0, (upper,), (Link("a", "raffinate", "z"),))
    with pytest.raises(SpecError, match="more than whole"):
        Network(("Pr", "Nd"), LOG_K, 1.0, (upper, lower),
                (Link("a", "raffinate", "b", 0.7), Link("a", "raffinate", "b", 0.7)))  # fmt: skip
    with pytest.raises(SpecError, match="organic_m3_h must be 1"):
        Network(("Pr", "Nd"), LOG_K, 1.0, (upper, lower),
                (Link("a", "loaded_organic", "b"),)).topology()  # fmt: skip
    with pytest.raises(SpecError, match="external feed"):
        Network(("Pr", "Nd"), LOG_K, 1.0, (lower,))
    with pytest.raises(SpecError, match="block b: a strip section"):
        Block("b", n=3, p=2, organic_m3_h=1.0)


@pytest.mark.e2e
def test_cli_network(tmp_path: Path) -> None:
    result = run("cascade", "network", str(EXAMPLE), "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert max(payload["closure"]) < 1e-10 and payload["proton_closure"] < 1e-10
    assert {s["stream"] for s in payload["streams"]} == {"upper.loaded_organic",
                                                          "lower.raffinate"}  # fmt: skip
    bad = write(tmp_path, "bad.yaml", "extractant_mol_per_l: 1\nblocks: []\n")
    refused = run("cascade", "network", str(bad))
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "blocks" in refused.stderr
