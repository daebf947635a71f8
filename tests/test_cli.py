"""The installed ``rareflow`` command, run in a subprocess as a user would."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import write

pytestmark = pytest.mark.e2e


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rareflow", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_prints_summary() -> None:
    result = run("data", "check")
    assert result.returncode == 0, result.stderr
    assert "dataset valid" in result.stdout and "facilities" in result.stdout


def test_check_json_shape() -> None:
    payload = json.loads(run("data", "check", "--json").stdout)
    assert payload["valid"] is True and payload["usgs_edition"] == "mcs2026"
    assert {"table", "rows", "description", "files"} <= set(payload["tables"][0])


def test_shares_mining_json_matches_usgs() -> None:
    result = run("data", "shares", "--stage", "mining", "--year", "2024", "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    shares = {row["country"]: row["share_pct"] for row in payload["shares"]}
    # 270,000 of 384,000 t REO listed in MCS2026 for 2024
    assert shares["CN"] == pytest.approx(100 * 270000 / 384000, abs=0.01)
    assert payload["world_total"] == 380000
    assert payload["unit"] == "t REO"


def test_headline_table_has_three_stages() -> None:
    result = run("data", "shares", "--year", "2024")
    assert result.returncode == 0, result.stderr
    for stage in ("mining 2024", "separation 2024", "magnet 2024"):
        assert stage in result.stdout


def test_show_and_source() -> None:
    result = run("data", "show", "elements", "--json")
    rows = json.loads(result.stdout)["rows"]
    assert next(r for r in rows if r["symbol"] == "Nd")["oxide"] == "Nd2O3"
    source = run("data", "source", "usgs_mcs2026_ree")
    assert source.returncode == 0 and "pubs.usgs.gov" in source.stdout


def test_broken_copy_lists_every_problem(tmp_path: Path) -> None:
    write(
        tmp_path,
        "facility_capacities.csv",
        """
        facility,stage,product,capacity,unit,basis,year,available_from,source,note
        mountain_pass,mine,reo,-1,t_per_yr,output,2025,,usgs_mcs2026_ree,
        ghost_plant,mine,reo,5,t_per_yr,output,2025,,nobody_said_so,
    """,
    )
    write(tmp_path, "policies.yaml", "events: [\n")
    result = run("data", "check", "--data", str(tmp_path))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "facility_capacities.csv:2, column 'capacity'" in result.stderr
    assert "facility_capacities.csv:3, column 'facility'" in result.stderr
    assert "nobody_said_so" in result.stderr
    assert "policies.yaml" in result.stderr and "invalid YAML" in result.stderr


def test_broken_copy_json(tmp_path: Path) -> None:
    write(tmp_path, "reserves.csv", "country,edition\nUS,mcs2099\n")
    result = run("data", "check", "--data", str(tmp_path), "--json")
    assert result.returncode == 1
    payload = json.loads(result.stdout)
    assert payload["valid"] is False
    assert {"file", "line", "column", "value", "expected", "message", "kind"} <= set(
        payload["problems"][0]
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("data", "show", "nonsense"), "unknown table 'nonsense'"),
        (("data", "source", "nonsense"), "unknown source id 'nonsense'"),
        (("data", "shares", "--stage", "smelting"), "unknown stage 'smelting'"),
        (("data", "shares", "--stage", "mining", "--year", "2019"), "not 2019"),
        (("data", "shares", "--year", "twenty"), "Invalid value"),
    ],
)
def test_bad_arguments_give_messages(args: tuple[str, ...], message: str) -> None:
    result = run(*args)
    assert result.returncode in (1, 2)
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_data_that_move_calibrated_demand_are_named(tmp_path: Path) -> None:
    """Magnet demand is calibrated on the base year's Nd + Pr supply: a user's cut of China's
    2024 mine output shrinks demand with it, which the command line says instead of printing a
    market that looks like a shortage and is not one."""
    import re

    import pandas as pd

    from rareflow.dataset.loader import bundled_data_dir

    table = pd.read_csv(bundled_data_dir() / "mine_production.csv")
    china = (table["country"] == "CN") & (table["year"] == 2024)
    table.loc[china, "mine_production_t_reo"] *= 0.7
    table.to_csv(tmp_path / "mine_production.csv", index=False)
    result = run("market", "clear", "--data", str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    json.loads(result.stdout)  # the warning stays off the JSON
    found = re.search(r"change the base year's magnet demand by ([-+][\d.]+) %", result.stderr)
    assert found is not None, result.stderr
    # China mined about 70 % of the world's REO in 2024, so a 30 % cut removes at most that
    # share of the Nd + Pr supply: demand falls, by less than 30 %
    assert -30.0 < float(found.group(1)) < -5.0
    unchanged = tmp_path / "same"
    unchanged.mkdir()
    pd.read_csv(bundled_data_dir() / "mine_production.csv").to_csv(
        unchanged / "mine_production.csv", index=False
    )
    quiet = run("data", "check", "--data", str(unchanged))
    assert quiet.returncode == 0 and "warning" not in quiet.stderr
