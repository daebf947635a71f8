"""``rareflow comply``: verdicts under China's 2025 rules and the US EAR per shipment edge."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from rareflow.cli.data import DataDir, load
from rareflow.cli.output import console, counted, errors, fail, print_frame, print_json
from rareflow.compliance.china import ChinaOptions
from rareflow.compliance.documents import (
    BomDocument,
    RegimeTable,
    bundled_regimes,
    iso_country,
    load_document,
)
from rareflow.compliance.engine import assessed, parse_options
from rareflow.compliance.links import provenance_lookup
from rareflow.dataset.errors import DataValidationError
from rareflow.scenario.loader import load_scenario

DateOption = Annotated[str | None, typer.Option("--date", help="Assess on this date (YYYY-MM-DD).")]
DestinationOption = Annotated[str | None, typer.Option(help="Destination country (what-if).")]
ReadingOption = Annotated[
    list[str] | None,
    typer.Option(help="Reading of the Chinese text, e.g. part2_scope=broad (repeatable)."),
]
RegimesOption = Annotated[
    Path | None, typer.Option(help="Your own regime table (default: the bundled one).")
]
LinkScenario = Annotated[
    str, typer.Option(help="Scenario whose run feeds provenance links of later years.")
]
LinkRun = Annotated[int, typer.Option(help="Run index for provenance links.")]
LinkSeed = Annotated[int, typer.Option(help="Seed for provenance links.")]


def _options(items: list[str] | None) -> ChinaOptions:
    try:
        return parse_options(items or [])
    except ValueError as error:
        fail(str(error))


def _load(path: Path, model: type[Any]) -> Any:
    try:
        return load_document(path, model)
    except DataValidationError as error:
        for issue in error.issues:
            errors.print(str(issue), markup=False, highlight=False, soft_wrap=True)
        fail(f"{counted(len(error.issues), 'problem')} in {path}; nothing was assessed")


def comply_command(
    bom: Annotated[Path, typer.Argument(help="YAML bill of materials with shipments.")],
    on: DateOption = None,
    destination: DestinationOption = None,
    option: ReadingOption = None,
    regimes: RegimesOption = None,
    out: Annotated[
        Path | None, typer.Option(help="Write the audit record (inputs + verdicts).")
    ] = None,
    scenario: LinkScenario = "baseline",
    run: LinkRun = 0,
    seed: LinkSeed = 0,
    data: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON records.")] = False,
) -> None:
    """Does each shipment need a Chinese licence, and is it subject to the EAR?"""
    _, record = assess(bom, on, destination, option, regimes, scenario, run, seed, data, as_json)
    records = record["verdicts"]
    if out is not None:
        try:
            out.write_text(json.dumps(record, indent=2))
        except OSError as error:
            fail(f"cannot write {out}: {error.strerror}")
    if as_json:
        print_json(records)
        return
    rows = []
    for record in records:
        limbs = [
            f"{limb['limb']}{' ' + _pct(limb['ratio']) if limb['ratio'] else ''}"
            for limb in record["china"]["limbs"]
            if limb["hit"]
        ]
        rows.append(
            {
                "shipment": record["shipment"],
                "route": f"{record['exporter_country']}->{record['destination']}",
                "date": record["date"],
                "China": record["china"]["verdict"],
                "China routes": "; ".join(limbs + record["china"]["overlays"]),
                "EAR": record["ear"]["verdict"],
                "EAR ratio": _pct(record["ear"]["ratio"]) if record["ear"]["ratio"] else "",
                "missing": "; ".join(record["china"]["missing"] + record["ear"]["missing"]),
                "review": "; ".join(
                    f"{flag['alternative_verdict']} if {flag['option']}={flag['alternative']}"
                    for flag in record["china"]["review"]
                ),
            }
        )
    print_frame(pd.DataFrame(rows), title=f"Verdicts ({bom.name})")
    console.print(records[0]["china"]["assumptions"][0] if records else "no shipments")


def assess(
    bom: Path,
    on: str | None,
    destination: str | None,
    option: list[str] | None,
    regimes: Path | None,
    scenario: str,
    run: int,
    seed: int,
    data: Path | None,
    as_json: bool = False,
) -> tuple[BomDocument, dict[str, Any]]:
    """The document (with provenance links resolved) and its audit record (inputs, options,
    regime table and hash, verdicts); bad input ends with a message naming it."""
    document: BomDocument = _load(bom, BomDocument)
    table: RegimeTable = _load(regimes, RegimeTable) if regimes else bundled_regimes()
    options = _options(option)
    try:
        day = date.fromisoformat(on) if on else None
    except ValueError:
        fail(f"--date {on!r} is not a date like 2026-03-01")
    if destination is not None:
        try:
            iso_country(destination)
        except ValueError as error:
            fail(f"--destination {error}")
    lookup = _provenance_lookup(data, scenario, seed, run, as_json)
    try:
        return assessed(document, table, options, day, destination, lookup)
    except ValueError as error:
        fail(str(error))


def _provenance_lookup(data: Path | None, scenario: str, seed: int, run: int,
                       as_json: bool) -> Callable[[str, str, int | None], float]:  # fmt: skip
    """Chinese-mined share of an element reaching a node, from the solved market of a year
    (the dataset is loaded on the first link, so documents without links do not pay for it)."""
    lookups: list[Callable[[str, str, int | None], float]] = []

    def checked(element: str, node: str, year: int | None) -> float:
        if not lookups:
            lookups.append(provenance_lookup(load(data, as_json),
                           lambda: load_scenario(scenario), scenario, seed, run))  # fmt: skip
        try:
            return lookups[0](element, node, year)
        except ValueError as error:
            fail(str(error))

    return checked


def _pct(ratio: str) -> str:
    return f"{float(ratio) * 100:.4g} %"
