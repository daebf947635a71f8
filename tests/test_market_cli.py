"""``rareflow market`` end to end in a subprocess: JSON shape, scenarios, errors."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rareflow", "market", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_clear_json_has_the_documented_shape() -> None:
    done = run("clear", "--year", "2024", "--json")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["year"] == 2024
    for key in (
        "production",
        "china_shares",
        "prices",
        "trade",
        "trade_between_groups",
        "demand",
        "subsidies",
        "ledger",
        "max_imbalance_t",
        "welfare_musd",
    ):
        assert key in payload
    assert payload["max_imbalance_t"] < 1e-6
    assert payload["notes"] == []  # the base year's demand is its own
    for row in payload["ledger"]:  # each element's balance closes from the row's own fields
        oxide_in = row["sourced_t"] + row["oxide_carried_in_t"] + row["heavy_carried_in_t"]
        used = ("lost_in_separation_t", "heavy_disposed_t", "heavy_held_t", "oxide_final_t",
                "to_metal_t")  # fmt: skip
        oxide_out = sum(row[k] for k in used)
        metal_in = row["metal_made_t"] + row["metal_carried_in_t"]
        metal_out = row["in_magnets_t"] + row["magnet_lost_t"] + row["metal_final_t"]
        assert abs(oxide_in - oxide_out) < 1e-5 and abs(metal_in - metal_out) < 1e-5
    dysprosium = next(row for row in payload["ledger"] if row["element"] == "Dy")
    assert dysprosium["oxide_carried_in_t"] > 0  # the base year starts with stocks
    shares = {row["stage"]: row["share_pct"] for row in payload["china_shares"]}
    assert 64 < shares["mining"] < 75
    nd = [p for p in payload["prices"] if p["item"] == "Nd" and p["location"] == "CN"]
    assert nd and nd[0]["commodity"] == "oxide" and 30 < nd[0]["usd_per_kg"] < 90


@pytest.mark.parametrize(
    ("year", "said"),
    [
        # no published FOB price in the dataset for 2011: demand keeps the base year's prices
        (2011, "no 2011 FOB China price for Ce, Dy"),
        # 2015's published prices anchor the curves of the elements that have one
        (2015, "Ce, Dy, Eu, La, Nd, Tb are anchored at 2015's published FOB China prices"),
    ],
)
def test_a_past_year_says_what_its_demand_is_anchored_at(year: int, said: str) -> None:
    """A past year's one-year clearing once printed base-year-like prices with no word that
    its demand curves were the base year's."""
    done = run("clear", "--year", str(year), "--json")
    assert done.returncode == 0, done.stderr
    (note,) = json.loads(done.stdout)["notes"]
    assert said in note and "rareflow backcast" in note
    text = run("clear", "--year", str(year))
    assert "is a past year" in text.stdout


def test_price_intervals_say_which_prices_the_lp_leaves_open() -> None:
    done = run("clear", "--year", "2024", "--price-intervals", "--json")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)  # strict JSON: an unbounded end is null
    rows = {(r["commodity"], r["item"], r["location"], r["track"]): r
            for r in payload["price_intervals"]}  # fmt: skip
    assert len(rows) == len(payload["prices"])
    for row in rows.values():
        low = -math.inf if row["low"] is None else row["low"]
        high = math.inf if row["high"] is None else row["high"]
        assert low - 1e-3 <= row["usd_per_kg"] <= high + 1e-3
    # the prices the back-cast compares are determined (one more or one fewer t, same price)
    for item in ("Nd", "Dy", "Tb"):
        for place in ("CN", "JP"):
            assert rows[("oxide", item, place, 0)]["determined"]


def test_scenario_file_changes_the_result(tmp_path: Path) -> None:
    scenario = tmp_path / "ban.yaml"
    scenario.write_text(
        "levers:\n"
        "  bans:\n"
        "    - id: cn_heavy\n"
        "      commodities: [oxide, metal, magnet]\n"
        "      elements: [Dy, Tb]\n"
        "      origin: [china]\n"
        "      exclude_destination: [china]\n"
    )
    base = json.loads(run("clear", "--json").stdout)
    banned = json.loads(run("clear", "--scenario", str(scenario), "--json").stdout)

    def tb_in_japan(payload: dict) -> float:  # type: ignore[type-arg]
        return next(
            p["usd_per_kg"]
            for p in payload["prices"]
            if p["commodity"] == "oxide" and p["item"] == "Tb" and p["location"] == "JP"
        )

    assert tb_in_japan(banned) > tb_in_japan(base)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("levers:\n  bans:\n    - id: x\n      origin: [chna]\n", "bad.yaml:3, column 'origin'"),
        ("levers:\n  bans:\n    - id: x\n      origin: [chna]\n", "'china' (did you mean it?)"),
        (
            "levers:\n  floors:\n    - id: f\n      plants: [nowhere]\n      elements: [Nd]\n"
            "      floor_usd_per_kg: 110\n      volume_t: 10\n",
            "unknown plant or mine",
        ),
        ("levers:\n  bans:\n    - id: x\n      colour: red\n", "colour"),
        ("levers: [\n", "YAML"),
    ],
)
def test_bad_scenarios_are_named_precisely(tmp_path: Path, text: str, expected: str) -> None:
    scenario = tmp_path / "bad.yaml"
    scenario.write_text(text)
    done = run("clear", "--scenario", str(scenario))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "bad.yaml" in done.stderr and expected in done.stderr


def test_calibrate_reports_every_check_within_bounds() -> None:
    done = run("calibrate", "--json")
    assert done.returncode == 0, done.stderr
    checks = json.loads(done.stdout)["checks"]
    assert len(checks) == 12 and all(c["ok"] for c in checks)
