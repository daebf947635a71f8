"""Every class of bad data gets one precise message: file, line, column, value, expectation."""

from __future__ import annotations

from pathlib import Path

import pytest

from rareflow.dataset.errors import DataIssue, DataValidationError
from rareflow.dataset.loader import check_dataset, load_dataset

from .conftest import write

FACILITY_HEADER = (
    "id,name,operator,country,region,latitude,longitude,location_basis,stages,feed,ore_type,"
    "status,start_year,heavy_ree,technology_origin,equipment_origin,owner_country,kind,source,note"
)
CAPACITY_HEADER = "facility,stage,product,capacity,unit,basis,year,available_from,source,note"


def problems(directory: Path) -> list[DataIssue]:
    dataset, issues = check_dataset(directory)
    assert dataset is None, "broken data must not load"
    assert issues
    return issues


def only(issues: list[DataIssue], kind: str) -> DataIssue:
    matching = [i for i in issues if i.kind == kind]
    assert len(matching) == 1, [str(i) for i in issues]
    return matching[0]


def test_unknown_element_symbol_in_prices(tmp_path: Path) -> None:
    write(
        tmp_path,
        "prices.csv",
        """
        product,elements,purity_pct,year,price_usd_per_kg,basis,edition,source,note
        ndpr_oxide,Nd;Qq,99,2024,55,fob_china_annual_average,mcs2026,usgs_mcs2026_ree,
    """,
    )
    issue = only(problems(tmp_path), "unknown_element")
    assert issue.file.endswith("prices.csv") and issue.line == 2 and issue.column == "elements"
    assert "unknown element symbol 'Qq'" in issue.message


def test_unknown_element_column_in_ore_types(tmp_path: Path) -> None:
    write(
        tmp_path,
        "ore_types.csv",
        """
        id,name,country,La_pct,Ce_pct,Xy_pct,source
        test_ore,Test ore,US,50,50,0,usgs_myb2022_ree_tables
    """,
    )
    issue = only(problems(tmp_path), "unknown_element")
    assert (issue.line, issue.column) == (1, "Xy_pct")
    assert "'Xy'" in issue.message


def test_missing_required_column(tmp_path: Path) -> None:
    write(
        tmp_path,
        "facility_capacities.csv",
        """
        facility,stage,product,unit,basis,available_from,source,note
        mountain_pass,mine,reo,t_per_yr,output,,usgs_mcs2026_ree,
    """,
    )
    issue = only(problems(tmp_path), "missing_column")
    assert (issue.line, issue.column) == (1, "year")
    assert "required column is missing" in issue.message


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("lots", "a number"), ("-5", "a number >= 0")],
)
def test_bad_capacity(tmp_path: Path, cell: str, expected: str) -> None:
    write(
        tmp_path,
        "facility_capacities.csv",
        f"""
        {CAPACITY_HEADER}
        mountain_pass,mine,reo,{cell},t_per_yr,output,2025,,usgs_mcs2026_ree,
    """,
    )
    issue = only(problems(tmp_path), "invalid_value")
    assert (issue.line, issue.column, issue.value) == (2, "capacity", cell)
    assert issue.expected == expected
    assert "facility_capacities.csv:2, column 'capacity'" in str(issue)


def test_composition_not_summing(tmp_path: Path) -> None:
    write(
        tmp_path,
        "ore_types.csv",
        """
        id,name,country,La_pct,Ce_pct,Nd_pct,source
        test_ore,Test ore,US,40,40,10,usgs_myb2022_ree_tables
    """,
    )
    issue = only(problems(tmp_path), "composition_sum")
    assert issue.line == 2 and "sum to 90" in issue.message


def test_duplicate_id(tmp_path: Path) -> None:
    row = "dup_plant,Dup,Op,US,,,,,magnet,,,operating,2020,,,,US,facility,usgs_mcs2026_ree,"
    write(tmp_path, "facilities.csv", f"{FACILITY_HEADER}\n{row}\n{row}\n")
    issue = only(problems(tmp_path), "duplicate_id")
    assert issue.line == 3 and "line 2" in issue.message


def test_unknown_source_id(tmp_path: Path) -> None:
    write(
        tmp_path,
        "reserves.csv",
        """
        country,edition,reserves_t_reo,qualifier,source,note
        US,mcs2026,1900000,=,usgs_mcs2031_ree,
    """,
    )
    issue = only(problems(tmp_path), "unknown_source")
    assert (issue.line, issue.column, issue.value) == (2, "source", "usgs_mcs2031_ree")


def test_unknown_country_code(tmp_path: Path) -> None:
    write(
        tmp_path,
        "reserves.csv",
        """
        country,edition,reserves_t_reo,qualifier,source,note
        QQ,mcs2026,100,=,usgs_mcs2026_ree,
        usa,mcs2026,100,=,usgs_mcs2026_ree,
    """,
    )
    issues = problems(tmp_path)
    unknown = only(issues, "unknown_country")
    assert (unknown.line, unknown.value) == (2, "QQ")
    malformed = [i for i in issues if i.line == 3]
    assert malformed and "ISO 3166-1" in (malformed[0].expected or "")


def test_unknown_feed_facility_in_link(tmp_path: Path) -> None:
    write(
        tmp_path,
        "facility_links.csv",
        """
        from_facility,to_facility,material,dedicated,source,note
        atlantis_mine,mp_independence,concentrate,false,usgs_mcs2026_ree,
    """,
    )
    issue = only(problems(tmp_path), "unknown_facility")
    assert (issue.line, issue.column, issue.value) == (2, "from_facility", "atlantis_mine")


def test_output_before_start_year_is_impossible(tmp_path: Path) -> None:
    write(
        tmp_path,
        "facilities.csv",
        f"""
        {FACILITY_HEADER}
        future_plant,Future,Op,US,,,,,magnet,,,construction,2028,,,,US,facility,usgs_mcs2026_ree,
    """,
    )
    write(
        tmp_path,
        "facility_capacities.csv",
        f"""
        {CAPACITY_HEADER}
        future_plant,magnet,ndfeb_magnet,100,t_per_yr,output,2025,,usgs_mcs2026_ree,
    """,
    )
    issue = only(problems(tmp_path), "impossible_date")
    assert issue.column == "year" and "start_year 2028" in issue.message


def test_invalid_yaml(tmp_path: Path) -> None:
    write(
        tmp_path,
        "policies.yaml",
        """
        events:
          - id: broken
            title: "unterminated
            date: 2025-01-01
    """,
    )
    issue = only(problems(tmp_path), "yaml_syntax")
    assert issue.file.endswith("policies.yaml") and issue.line is not None


def test_policy_field_errors_name_the_line(tmp_path: Path) -> None:
    write(
        tmp_path,
        "policies.yaml",
        """
        events:
          - id: test_event
            date: 2025-13-01
            jurisdiction: CN
            kind: export_licence
            title: A test
            elements: [Dy, Unobtainium]
            source: [usgs_mcs2026_ree]
    """,
    )
    issues = problems(tmp_path)
    by_column = {i.column: i for i in issues}
    assert by_column["date"].line == 3
    assert by_column["elements"].line == 7 and "Unobtainium" in by_column["elements"].message


def test_all_errors_of_a_file_in_one_pass(tmp_path: Path) -> None:
    write(
        tmp_path,
        "facility_capacities.csv",
        f"""
        {CAPACITY_HEADER}
        mountain_pass,mine,reo,abc,t_per_yr,output,2025,,usgs_mcs2026_ree,
        mountain_pass,mine,reo,10,t_per_yr,guess,2025,,usgs_mcs2026_ree,
        nowhere,mine,reo,10,t_per_yr,output,2025,,usgs_mcs2026_ree,
    """,
    )
    issues = problems(tmp_path)
    assert {i.line for i in issues} == {2, 3, 4}


def test_unknown_override_file_is_reported(tmp_path: Path) -> None:
    write(tmp_path, "facility.csv", "id\n")
    issue = only(problems(tmp_path), "unknown_file")
    assert "facility.csv" in issue.file and "facilities.csv" in (issue.expected or "")


def test_missing_directory() -> None:
    with pytest.raises(DataValidationError, match="does not exist"):
        load_dataset("/nonexistent/rareflow-data")


def test_ragged_row(tmp_path: Path) -> None:
    write(
        tmp_path,
        "reserves.csv",
        """
        country,edition,reserves_t_reo,qualifier,source,note
        US,mcs2026,1900000,=,usgs_mcs2026_ree,a note, with a comma
    """,
    )
    issue = only(problems(tmp_path), "csv_syntax")
    assert issue.line == 2 and "quote" in (issue.expected or "")


def test_null_figure_needs_a_note(tmp_path: Path) -> None:
    write(
        tmp_path,
        "facility_capacities.csv",
        f"""
        {CAPACITY_HEADER}
        mountain_pass,mine,reo,,t_per_yr,output,2025,,usgs_mcs2026_ree,
    """,
    )
    issue = only(problems(tmp_path), "invalid_value")
    assert issue.line == 2 and "capacity is empty but the note does not say why" in issue.message


def test_nested_yaml_errors_give_the_path_and_line(tmp_path: Path) -> None:
    write(
        tmp_path,
        "process_costs.yaml",
        """
        regions:
          CN:
            name: China
            parameters:
              electricity_usd_per_kwh: {value: -1, unit: USD/kWh, source: [iso_3166_1]}
        plant: {}
        capex: {}
        cost_index: {name: CEPCI, values: {2024: 798.8}, source: [iso_3166_1]}
    """,
    )
    issues = problems(tmp_path)
    assert len(issues) == 1
    issue = issues[0]
    assert issue.column == "regions.CN.parameters.electricity_usd_per_kwh.value"
    assert issue.line == 5 and issue.expected == "a number >= 0"
