"""Property tests: malformed CSV never crashes the loader, it becomes data issues."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rareflow.dataset.errors import DataIssue
from rareflow.dataset.loader import check_dataset
from rareflow.dataset.readers import read_csv
from rareflow.dataset.tables import TABLES, parse_rows

cells = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "",
            "-1",
            "1e400",
            "nan",
            "NaN",
            "inf",
            "2024",
            "US",
            "Nd;Pr",
            "true",
            "usgs_mcs2026_ree",
            "mountain_pass",
            '"',
            ";;",
            "\u00e9",
            "0x10",
        ]
    ),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    table=st.sampled_from(sorted(TABLES)),
    rows=st.lists(st.lists(cells, min_size=0, max_size=25), max_size=6),
    drop=st.integers(min_value=0, max_value=5),
)
def test_random_rows_never_crash_the_parser(
    tmp_path: Path, table: str, rows: list[list[str]], drop: int
) -> None:
    spec = TABLES[table]
    header = spec.columns[drop:]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    path = tmp_path / spec.filename
    path.write_text(buffer.getvalue(), encoding="utf-8")
    issues: list[DataIssue] = []
    parsed = read_csv(path, spec.filename, issues)
    if parsed is not None:
        records = parse_rows(spec, parsed, issues)
        accepted = {record.line for record in records}
        rejected = {issue.line for issue in issues}
        assert not accepted & rejected  # a row is either accepted or reported, never both
        header_broken = 1 in rejected
        for row in parsed.rows:
            assert row.line in accepted or row.line in rejected or header_broken
    for issue in issues:
        assert issue.file == spec.filename and issue.message


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=300), table=st.sampled_from(sorted(TABLES)))
def test_arbitrary_text_file_through_full_loader(tmp_path: Path, text: str, table: str) -> None:
    (tmp_path / TABLES[table].filename).write_text(text, encoding="utf-8")
    dataset, issues = check_dataset(tmp_path)
    assert (dataset is None) == bool(issues)
    assert all(str(issue) for issue in issues)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(blob=st.binary(max_size=200))
def test_binary_garbage_is_an_issue_not_a_crash(tmp_path: Path, blob: bytes) -> None:
    (tmp_path / "prices.csv").write_bytes(blob)
    dataset, issues = check_dataset(tmp_path)
    assert (dataset is None) == bool(issues)
