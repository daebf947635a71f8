"""A user's directory overrides rows by key, extends tables, or replaces a table whole."""

from __future__ import annotations

from pathlib import Path

from rareflow.dataset.dataset import Dataset
from rareflow.dataset.loader import bundled_data_dir, check_dataset, load_dataset

from .conftest import write


def test_override_replaces_row_by_key(tmp_path: Path, dataset: Dataset) -> None:
    write(
        tmp_path,
        "mine_production.csv",
        """
        country,year,edition,mine_production_t_reo,estimated,source,note
        AU,2024,mcs2026,31000,true,usgs_mcs2026_ree,my own estimate
    """,
    )
    mine = load_dataset(tmp_path).mine_production(2024)
    assert mine.set_index("country").loc["AU", "mine_production_t_reo"] == 31000
    bundled = dataset.mine_production(2024)
    assert bundled.set_index("country").loc["AU", "mine_production_t_reo"] == 29000
    assert len(mine) == len(bundled)


def test_override_extends_with_new_rows_and_sources(tmp_path: Path, dataset: Dataset) -> None:
    write(
        tmp_path,
        "sources.yaml",
        """
        sources:
          my_survey:
            title: Internal survey
            publisher: Example Corp
            year: 2026
            quality: company
            note: Internal document, available on request
    """,
    )
    write(
        tmp_path,
        "ore_types.csv",
        """
        id,name,country,La_pct,Ce_pct,Nd_pct,Pr_pct,source
        my_ore,My ore,CA,30,50,15,5,my_survey
    """,
    )
    extended = load_dataset(tmp_path)
    assert len(extended.table("ore_types")) == len(dataset.table("ore_types")) + 1
    assert extended.ore_distribution("my_ore")["Nd"] == 0.15


def test_replace_tables(tmp_path: Path) -> None:
    write(tmp_path, "dataset.yaml", "replace_tables: [magnet_intensity, facility_links]\n")
    write(
        tmp_path,
        "magnet_intensity.csv",
        """
        application,variant,quantity,value,unit,source
        ev_motor,own_teardown,ndfeb_magnet,1.8,kg_per_unit,usgs_mcs2026_ree
    """,
    )
    header = "from_facility,to_facility,material,dedicated,source,note\n"
    write(tmp_path, "facility_links.csv", header)
    replaced = load_dataset(tmp_path)
    assert list(replaced.table("magnet_intensity")["variant"]) == ["own_teardown"]
    assert replaced.table("facility_links").empty


def test_replacing_a_referenced_table_reports_dangling_references(tmp_path: Path) -> None:
    write(tmp_path, "dataset.yaml", "replace_tables: [ore_types]\n")
    write(
        tmp_path,
        "ore_types.csv",
        """
        id,name,country,La_pct,Ce_pct,source
        only_ore,Only ore,US,40,60,usgs_myb2022_ree_tables
    """,
    )
    dataset, issues = check_dataset(tmp_path)
    assert dataset is None
    assert {i.value for i in issues if i.column == "ore_type"} >= {"mt_weld", "bayan_obo"}


def test_route_and_feed_sources_of_market_yaml_must_resolve(tmp_path: Path) -> None:
    text = (bundled_data_dir() / "market.yaml").read_text()
    broken = text.replace(
        "feeds_source: [spglobal_russia_rare_earth_reserves]", "feeds_source: [no_such_source]"
    ).replace("routes_source: [usgs_mcs2025_ree, usgs_mcs2026_ree]", "routes_source: [nowhere]")
    assert broken.count("no_such_source") == 1 and broken.count("nowhere") == 1
    (tmp_path / "market.yaml").write_text(broken)
    dataset, issues = check_dataset(tmp_path)
    assert dataset is None
    found = {(i.column, i.value) for i in issues if i.kind == "unknown_reference"}
    for field, value in ((".feeds_source", "no_such_source"), (".routes_source", "nowhere")):
        assert any(c.startswith(("separators[", "mines[")) and c.endswith(field) and v == value
                   for c, v in found)  # fmt: skip
