"""Capex from the flowsheet's equipment, its calibration on published projects, lead times,
the claims command, and candidates costed by the plant model."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from pydantic import ValidationError

from rareflow.dataset.dataset import Dataset
from rareflow.dataset.documents import PlantProject
from rareflow.process.calibration import calibrate_capex, flowsheet_of
from rareflow.process.capex import capex_parts, plant_capex, sx_boxes
from rareflow.process.leadtime import lead_time
from rareflow.scenario.schema import Candidate, Scenario
from rareflow.simulate.world import ScenarioError, build_market

from .test_cli import run

CEPCI_2012, CEPCI_2024 = 584.6, 798.8  # Chemical Engineering's annual averages (2024: June)


def _values(dataset: Dataset, section: str) -> dict[str, float]:
    costs = dataset.process_costs
    assert costs is not None
    return {k: p.value for k, p in getattr(costs, section).items()}


def test_boxes_by_hand(dataset: Dataset) -> None:
    sheet = flowsheet_of(dataset, "mountain_pass")
    plant, capex = _values(dataset, "plant"), _values(dataset, "capex")
    boxes = sx_boxes(sheet, dataset.process_costs, 50_000)  # type: ignore[arg-type]
    split = boxes.iloc[0]
    # a stage holds organic + aqueous for the residence time, times (1 + settler/mixer)
    volume = (split["organic_m3_h"] + split["aqueous_m3_h"]) * plant["mixer_residence_min"] / 60
    volume *= 1 + plant["settler_to_mixer_volume"]
    assert split["stage_volume_m3"] == pytest.approx(volume)
    parallel = math.ceil(volume / capex["max_box_volume_m3"])
    assert split["boxes_per_stage"] == parallel
    stages = split["n"] + split["m"] + capex["strip_stages_per_split"]
    stages += capex["saponification_stages_per_split"]
    assert split["boxes"] == stages * parallel
    unit = (
        plant["reference_stage_cost_usd"]
        * (volume / parallel / plant["reference_stage_volume_m3"]) ** plant["scale_exponent"]
    )
    assert split["box_cost_usd"] == pytest.approx(unit * stages * parallel)
    assert (boxes["boxes_per_stage"] >= 1).all()


def test_capex_by_hand_in_2024_dollars(dataset: Dataset) -> None:
    sheet = flowsheet_of(dataset, "mountain_pass")
    plant, capex = _values(dataset, "plant"), _values(dataset, "capex")
    boxes = sx_boxes(sheet, dataset.process_costs, 10_000)  # type: ignore[arg-type]
    escalation = CEPCI_2024 / CEPCI_2012
    result = plant_capex(sheet, dataset, "US", 10_000, "integrated", 2024)
    separation = boxes["box_cost_usd"].sum() * capex["box_cost_factor"] * escalation
    assert result.items["sx_circuit"] == pytest.approx(separation)
    assert result.items["rest_of_separation_plant"] == pytest.approx(
        separation * (plant["installation_factor"] - 1)
    )
    # a bastnaesite concentrate is cracked: the reference plant at its own size, escalated
    assert result.items["cracking_and_leaching"] == pytest.approx(
        capex["cracking_reference_usd"] * escalation
    )
    double = plant_capex(sheet, dataset, "US", 20_000, "cracking", 2024)
    assert double.total_usd == pytest.approx(
        result.items["cracking_and_leaching"] * 2 ** capex["cracking_scale_exponent"]
    )
    assert set(double.items.values()) - {0.0} == {double.items["cracking_and_leaching"]}
    # years past the index take its last value
    assert plant_capex(sheet, dataset, "US", 10_000, "integrated", 2030).total_usd == (
        pytest.approx(result.total_usd)
    )


def test_region_and_scope(dataset: Dataset) -> None:
    sheet = flowsheet_of(dataset, "mountain_pass")
    us = capex_parts(sheet, dataset, "US", 10_000, "integrated", 2024)
    cn = capex_parts(sheet, dataset, "CN", 10_000, "integrated", 2024)
    factor = dataset.process_costs.regions["CN"].parameters["construction_cost_factor"].value  # type: ignore[union-attr]
    assert cn.separation == pytest.approx(factor * us.separation)
    assert cn.cracking == pytest.approx(factor * us.cracking)
    clay = flowsheet_of(dataset, "ionic_clay_medium_y_eu")
    leached = capex_parts(clay, dataset, "CN", 10_000, "integrated", 2024)
    assert leached.cracking == 0.0  # ion-adsorption clay arrives leached
    assert capex_parts(sheet, dataset, "US", 10_000, "separation", 2024).cracking == 0.0
    with pytest.raises(LookupError, match="region 'XX'"):
        plant_capex(sheet, dataset, "XX", 10_000)


def test_lead_times_from_published_durations(dataset: Dataset) -> None:
    costs = dataset.process_costs
    assert costs is not None
    # US brownfield separation: Seadrift's 2-year permit + Energy Fuels' 2.5-3 years
    us = lead_time(costs, "separation", "brownfield", "US")
    assert us.years == (4.5, 5.0) and us.whole_years == (4, 5)
    assert us.permitting_ids == ("lt_us_plant_permitting",)
    # an Australian refinery with a new mine: 1-2 years of mine permits + Eneabba's 5
    au = lead_time(costs, "integrated", "greenfield", "AU", with_mine=True)
    assert au.years == (6.0, 7.0)
    assert any("integrated permitting" in g for g in au.gaps)  # said, not guessed
    # China's own brownfield projects: 8 and 21 months
    cn = lead_time(costs, "separation", "brownfield", "CN")
    assert cn.years == pytest.approx((0.67, 1.75))
    # no greenfield separation plant in Australia or China: the place's own greenfield
    # processing plants (Kalgoorlie 2-2.5, Eneabba 5; Huamei 19 months), not Saskatoon's
    assert lead_time(costs, "separation", "greenfield", "AU").years == (2.0, 5.0)
    assert lead_time(costs, "separation", "greenfield", "CN").years == (1.6, 1.6)
    # no duration published for this stage at all: zero, and said so
    metal = lead_time(costs, "metal", "greenfield", "JP")
    assert metal.years == (0.0, 0.0) and metal.gaps


def test_calibration_reproduces_the_dataset_and_fits(dataset: Dataset) -> None:
    result = calibrate_capex(dataset)
    stored = result.stored
    assert result.box_cost_factor == pytest.approx(stored["box_cost_factor"], rel=0.01)
    assert result.cracking_reference_usd == pytest.approx(
        stored["cracking_reference_usd"], rel=0.01
    )
    scores = result.scores()
    assert scores["calibration"]["n"] >= 4
    assert scores["calibration"]["rms_log_error"] < 0.3
    assert scores["check"]["n"] >= 4
    assert scores["check"]["rms_log_error"] < 0.6  # out of sample: within a factor ~1.8
    assert all(1 / 1.5 < r["ratio"] < 1.5 for r in result.rows if r["role"] == "calibration")


def test_calibration_recovers_known_parameters(dataset: Dataset) -> None:
    """Projects priced by the model itself at chosen values: the fit must find them."""
    costs = dataset.process_costs
    assert costs is not None
    box, cracking = 2.5, 3.0e8
    cases = [
        ("bayan_obo", "CN", "separation", 2015),
        ("mountain_pass", "US", "integrated", 2020),
        ("mountain_pass", "AU", "separation", 2012),
        ("bayan_obo", "MY", "integrated", 2023),
    ]
    projects = []
    for index, (ore, region, scope, year) in enumerate(cases):
        sheet = flowsheet_of(dataset, ore)
        parts = capex_parts(sheet, dataset, region, 8_000 + 3_000 * index, scope, year)  # type: ignore[arg-type]
        amount = box * parts.separation + cracking * parts.cracking + parts.fill
        projects.append(PlantProject(
            id=f"p{index}", name="synthetic", location=region, cost_year=year, amount=amount,
            currency="USD", usd_per_unit=1.0, capacity_t_reo=8_000 + 3_000 * index,
            scope=scope, ore_type=ore, site="greenfield", role="calibration", source=["x"],
        ))  # fmt: skip
    synthetic = dataclasses.replace(
        dataset, process_costs=costs.model_copy(update={"projects": projects})
    )
    result = calibrate_capex(synthetic)
    assert result.box_cost_factor == pytest.approx(box, rel=1e-6)
    assert result.cracking_reference_usd == pytest.approx(cracking, rel=1e-6)
    assert result.scores()["calibration"]["rms_log_error"] == pytest.approx(0.0, abs=1e-8)


def _candidate(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "new_refinery",
        "stage": "separation",
        "location": "AU",
        "capacity_t": 8000,
        "cost_usd_per_kg": 6.0,
        "max_units": 1,
    }
    return base | fields


def test_candidate_schema() -> None:
    with pytest.raises(ValidationError, match="capex_usd_per_t_year, or costed"):
        Candidate.model_validate(_candidate())
    with pytest.raises(ValidationError, match="separation candidates"):
        Candidate.model_validate(_candidate(stage="mine", ore_type="nolans",
                                            costed={"ore_type": "nolans"}))  # fmt: skip
    with pytest.raises(ValidationError, match="1 <= low <= high"):
        Candidate.model_validate(_candidate(capex_usd_per_t_year=1.0, lead_time_years=[6, 3]))
    plain = Candidate.model_validate(_candidate(capex_usd_per_t_year=1.0))
    assert plain.lead_years == (5, 8)
    unresolved = Candidate.model_validate(_candidate(costed={"ore_type": "mt_weld"}))
    with pytest.raises(ValueError, match="not resolved"):
        _ = unresolved.lead_years


def _scenario(*candidates: dict[str, object]) -> Scenario:
    return Scenario.model_validate({
        "name": "costed", "horizon": {"start": 2025, "end": 2027},
        "candidates": list(candidates),
    })  # fmt: skip


def test_costed_candidates_take_the_plant_model(dataset: Dataset) -> None:
    costed = {"ore_type": "mt_weld", "scope": "integrated", "site": "greenfield", "new_mine": True}
    given = _candidate(id="given", costed=costed, capex_usd_per_t_year=1234.0)
    market = build_market(dataset, _scenario(_candidate(costed=costed), given))
    resolved = {c.id: c for c in market.scenario.candidates}
    expected = plant_capex(flowsheet_of(dataset, "mt_weld"), dataset, "AU", 8000, "integrated",
                           2025)  # fmt: skip
    assert resolved["new_refinery"].capex == pytest.approx(expected.usd_per_t_year)
    assert resolved["new_refinery"].lead_years == (6, 7)  # AU mine permits + Eneabba
    assert resolved["given"].capex == 1234.0  # what the scenario says wins
    assert market.candidates["new_refinery"].capex == pytest.approx(expected.usd_per_t_year)
    with pytest.raises(ScenarioError, match="new_refinery: no plant costs for region 'ZA'"):
        build_market(dataset, _scenario(_candidate(costed={"ore_type": "mt_weld",
                                                           "region": "ZA"})))  # fmt: skip


@pytest.mark.e2e
def test_cli_plant_capex_and_errors() -> None:
    result = run("plant", "capex", "--ore", "mountain_pass", "--capacity", "15000", "--region",
                 "AU", "--scope", "integrated", "--new-mine", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    items = payload["capex"]["items_usd"]
    assert payload["capex"]["capex_usd"] == pytest.approx(sum(items.values()))
    assert payload["lead_time"]["years"] == [6.0, 7.0]
    bad = run("plant", "capex", "--ore", "mountain_pass", "--scope", "mine")
    assert bad.returncode == 1 and "--scope 'mine' is not one of" in bad.stderr
    assert "Traceback" not in bad.stderr


@pytest.mark.e2e
def test_cli_plant_calibrate_shows_the_opex_check() -> None:
    result = run("plant", "calibrate", "--json")
    assert result.returncode == 0, result.stderr
    (check,) = json.loads(result.stdout)["opex_checks"]
    assert check["project"] == "avalon_pfs_2012"
    # published 5,634 USD/t with 70 % reagents (process_costs.yaml, the study's figures)
    assert check["published_reagents"] == pytest.approx(5.634 * 0.7)
    text = run("plant", "calibrate")
    assert "Operating cost" in text.stdout and "5.63" in text.stdout and "3.94" in text.stdout


@pytest.mark.e2e
def test_cli_plant_claims_json() -> None:
    result = run("plant", "claims", "--capacities", "10000", "--regions", "US,CN", "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    cases = payload["new_plant"]["cases"]
    assert {c["region"] for c in cases} == {"US", "CN"}
    for case in cases:
        assert case["capex_low_usd"] < case["capex_usd"] < case["capex_high_usd"]
    ratio = payload["cost_ratio"]["regions"][0]
    drivers = [d for d in ratio["by_driver"] if d["driver"] != "total"]
    assert sum(d["share_of_gap"] for d in drivers) == pytest.approx(1.0)
    assert ratio["ratio_to_china"] == pytest.approx(
        ratio["usd_per_kg_reo"] / payload["cost_ratio"]["china"]["usd_per_kg_reo"]
    )
    # every input at China's value: the same plant, the same cost
    effects = {e["input"]: e["ratio_to_china"] for e in ratio["china_input_one_at_a_time"]}
    assert effects["all"] == pytest.approx(1.0, rel=1e-12)
    for effect in ratio["china_input_one_at_a_time"]:
        assert effect["ratio_to_china"] == pytest.approx(
            ratio["ratio_to_china"] + effect["ratio_change"]
        )


def test_project_data_is_checked(dataset: Dataset, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import yaml

    from rareflow.dataset.documents import ProcessCosts
    from rareflow.dataset.loader import check_dataset

    assert dataset.process_costs is not None
    document = dataset.process_costs.model_dump(mode="json")
    document["projects"][0]["location"] = "ZA"
    with pytest.raises(ValidationError, match=r"located in \['ZA'\] have no region costs"):
        ProcessCosts.model_validate(document)
    document["projects"][0]["location"] = "US"
    document["projects"][0]["ore_type"] = "nowhere_ore"
    (tmp_path / "process_costs.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    checked, issues = check_dataset(tmp_path)
    assert checked is None
    assert any("unknown ore type" in str(i) and "nowhere_ore" in str(i) for i in issues)


def test_lead_time_draws_map_uniformly_onto_the_range() -> None:
    from rareflow.simulate.plan import lead_time_of

    candidate = Candidate.model_validate(_candidate(capex_usd_per_t_year=1.0,
                                                    lead_time_years=[3, 6]))  # fmt: skip
    assert lead_time_of(candidate, 0.0) == 3
    assert lead_time_of(candidate, 0.9999) == 6
    counts = {y: 0 for y in range(3, 7)}
    for i in range(4000):
        counts[lead_time_of(candidate, (i + 0.5) / 4000)] += 1
    assert set(counts.values()) == {1000}


def test_oa_ratios_by_hand_and_their_warning(dataset: Dataset) -> None:
    import pandas as pd

    from rareflow.process.capex import flow_warnings

    plant = _values(dataset, "plant")
    boxes = sx_boxes(flowsheet_of(dataset, "mountain_pass"), dataset.process_costs, 10_000)  # type: ignore[arg-type]
    concentration = plant["aqueous_concentration_mol_per_m3"]
    loading = plant["organic_loading_mol_per_m3"]
    for row in boxes.itertuples():
        # per mol of split feed: organic S / loading, aqueous (W + 1) or W / concentration
        assert row.oa_scrub == pytest.approx(row.S / row.W * concentration / loading)
        assert row.oa_extraction == pytest.approx(row.S / (row.W + 1) * concentration / loading)
    synthetic = pd.DataFrame(
        {"split": ["a | b", "c | d"], "oa_extraction": [2.0, 0.05], "oa_scrub": [9.9, 3.0]}
    )
    warnings = flow_warnings(synthetic)
    assert len(warnings) == 1 and warnings[0].startswith("c | d: O/A 0.05 in the extraction")
