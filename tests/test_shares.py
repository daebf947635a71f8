"""Shares by stage on a small hand-made dataset, checked against hand calculations."""

from __future__ import annotations

from pathlib import Path

import pytest

from rareflow.dataset.dataset import DataQueryError, Dataset
from rareflow.dataset.loader import load_dataset
from rareflow.dataset.shares import stage_shares

from .conftest import write

FACILITIES = """
id,name,country,stages,ore_type,status,start_year,kind,covered_by,source
agg_cn,China total,CN,separation,,operating,,aggregate,,usgs_mcs2026_ree
cn_plant,Chinese plant,CN,separation,,operating,2010,facility,agg_cn,usgs_mcs2026_ree
my_plant,Malaysian plant,MY,separation,mt_weld,operating,2012,facility,,usgs_mcs2026_ree
us_plant,US plant,US,separation,,operating,2020,facility,,usgs_mcs2026_ree
new_plant,New plant,AU,separation,,construction,2026,facility,,usgs_mcs2026_ree
"""
CAPACITIES = """
facility,stage,product,capacity,basis,year,available_from,source,note
agg_cn,separation,reo,100,quota,2024,,usgs_mcs2026_ree,
cn_plant,separation,reo,50,nameplate,2020,,usgs_mcs2026_ree,
my_plant,separation,ndpr_oxide,23.29,nameplate,2024,,usgs_mcs2026_ree,
us_plant,separation,reo,10,output,2023,,usgs_mcs2026_ree,
us_plant,separation,reo,20,nameplate,2022,,usgs_mcs2026_ree,
new_plant,separation,reo,500,nameplate,2025,,usgs_mcs2026_ree,
"""


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    directory: Path = tmp_path_factory.mktemp("small")
    write(
        directory,
        "dataset.yaml",
        "replace_tables: [facilities, facility_capacities, facility_links, policies]\n",
    )
    write(directory, "facilities.csv", FACILITIES)
    write(directory, "facility_capacities.csv", CAPACITIES)
    write(directory, "facility_links.csv", "from_facility,to_facility,material,source\n")
    write(directory, "policies.yaml", "events: []\n")
    return load_dataset(directory)


def test_hand_calculated_separation_shares(small: Dataset) -> None:
    result = stage_shares(small, "separation", 2024)
    # Mt Weld: Pr + Nd = 5.16 + 18.13 = 23.29 of a row summing to 100.01 % of REO,
    # so 23.29 t NdPr oxide stands for 100.01 t REO.
    amounts = dict(zip(result.table["country"], result.table["amount"], strict=True))
    assert amounts == pytest.approx({"CN": 100.0, "MY": 100.01, "US": 20.0})
    assert result.share_of("CN") == pytest.approx(100 * 100 / 220.01)
    excluded = " ".join(result.excluded)
    assert "cn_plant: covered by agg_cn" in excluded
    assert "new_plant: starts in 2026" in excluded


def test_named_plants_count_when_the_aggregate_has_no_figure_for_the_year(small: Dataset) -> None:
    result = stage_shares(small, "separation", 2023)
    amounts = dict(zip(result.table["country"], result.table["amount"], strict=True))
    # The 2024 quota says nothing about 2023, so the covered plant's nameplate stands in;
    # the US plant has an output of the year itself (10 t), which wins over its nameplate.
    assert amounts == pytest.approx({"CN": 50.0, "MY": 100.01, "US": 10.0})


def test_unknown_stage_and_empty_year(small: Dataset) -> None:
    with pytest.raises(DataQueryError, match="unknown stage"):
        stage_shares(small, "smelting", 2024)
    with pytest.raises(DataQueryError, match="no separation capacities"):
        stage_shares(small, "separation", 1990)


def test_bundled_shares_use_the_aggregates(dataset: Dataset) -> None:
    separation = stage_shares(dataset, "separation", 2024)
    used = set(separation.contributions["facility"])
    assert "china_separation_quota" in used and "cnre_separation" not in used
    magnet = stage_shares(dataset, "magnet", 2024)
    assert "china_ndfeb" in set(magnet.contributions["facility"])
    assert "jl_mag" not in set(magnet.contributions["facility"])
    # capacity- and quota-based shares sit below the IEA's output-based 91 % and 94 %,
    # but China must still dominate both stages.
    assert separation.share_of("CN") > 75
    assert magnet.share_of("CN") > 85
