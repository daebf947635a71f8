"""The HTTP API in process (FastAPI's TestClient): every endpoint's contract, tokens and
tenants, limits, and ensemble jobs that really run ``rareflow run`` in their own processes,
are cancelled, lose a worker, and resume after a server restart."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from fastapi.testclient import TestClient

from rareflow.process.cascade import solve
from rareflow.process.files import load_cascade
from rareflow.web.app import create_app
from rareflow.web.settings import Limits, Settings, SettingsError, parse_tokens

ROOT = Path(__file__).resolve().parents[1]
ALICE, BOB = "alice-token-0123456789", "bob-token-9876543210xx"
SHORT = "name: short\nextends: baseline\nhorizon: {start: 2024, end: 2026}\n"

pytestmark = pytest.mark.e2e


def settings(tmp: Path, tokens: dict[str, str] | None = None) -> Settings:
    return Settings(
        store=tmp / "local.duckdb", workspace=tmp / "ws", tokens=tokens or {},
        limits=Limits(body_bytes=200_000, running_jobs=2),
    )  # fmt: skip


@pytest.fixture
def local(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings(tmp_path))) as client:
        yield client


@pytest.fixture
def tenants(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings(tmp_path, {"alice": ALICE, "bob": BOB}))) as client:
        yield client


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def wait(client: TestClient, job: str, headers: dict[str, str], until: Any, limit: float = 180):
    deadline = time.time() + limit
    while time.time() < deadline:
        record = client.get(f"/api/jobs/{job}", headers=headers).json()
        if until(record):
            return record
        time.sleep(0.3)
    raise AssertionError(f"job {job} never got there: {record}")


def test_unsafe_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="reachable from other machines"):
        Settings(host="0.0.0.0").check()
    with pytest.raises(SettingsError, match="at least 16"):
        Settings(host="0.0.0.0", tokens={"alice": "short"}).check()
    with pytest.raises(SettingsError, match="tenant name"):
        Settings(tokens={"Alice!": ALICE}).check()
    with pytest.raises(SettingsError, match="share a token"):
        Settings(tokens={"alice": ALICE, "bob": ALICE}).check()
    Settings(host="::1").check()  # loopback, no tokens: fine
    assert parse_tokens("alice: x1 # first\nbob:y2", "file") == {"alice": "x1", "bob": "y2"}
    with pytest.raises(SettingsError, match="entry 1: expected tenant:token"):
        parse_tokens("alice", "RAREFLOW_TOKENS")


def test_tokens_are_required_checked_and_never_in_urls(tenants: TestClient) -> None:
    assert tenants.get("/api/session").json() == {"tokens_required": True}
    assert tenants.get("/api/health").status_code == 401
    assert tenants.get("/api/health", headers=auth("x" * 22)).status_code == 401
    assert tenants.get("/api/health", headers={"Authorization": ALICE}).status_code == 401
    assert tenants.get("/api/health", headers=auth(ALICE)).json() == {"status": "ok"}
    in_url = tenants.get(f"/api/health?token={ALICE}", headers=auth(ALICE))
    assert in_url.status_code == 400 and "never in the URL" in in_url.json()["detail"]


def test_bodies_over_the_limit_are_refused_before_they_are_read(local: TestClient) -> None:
    big = "x" * 300_000
    declared = local.post("/api/cascade/simulate", json={"document": big})
    assert declared.status_code == 413 and "200000 bytes" in declared.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"document": "'
        for _ in range(30):
            yield b"y" * 10_000
        yield b'"}'

    streamed = local.post("/api/cascade/simulate", content=chunks(),
                          headers={"Content-Type": "application/json"})  # fmt: skip
    assert streamed.status_code == 413


def test_dataset_endpoints(local: TestClient) -> None:
    names = {t["name"] for t in local.get("/api/dataset/tables").json()}
    assert {"facilities", "prices", "sources"} <= names
    page = local.get("/api/dataset/tables/facilities", params={"limit": 5, "offset": 2}).json()
    assert len(page["rows"]) == 5 and page["total_rows"] > 50 and page["offset"] == 2
    assert local.get("/api/dataset/tables/nothing").status_code == 404
    assert local.get("/api/dataset/tables/facilities", params={"limit": 0}).status_code == 422
    source = local.get("/api/dataset/sources/usgs_mcs2025_ree").json()
    assert source["publisher"] == "U.S. Geological Survey"
    assert local.get("/api/dataset/sources/nothing").status_code == 404
    shares = local.get("/api/dataset/shares", params={"stage": "mining", "year": 2024}).json()
    china = next(r for r in shares["shares"] if r["country"] == "CN")
    assert china["share_pct"] == pytest.approx(69, abs=3)  # USGS: about 69 % of 2024 mining
    assert local.get("/api/dataset/shares", params={"stage": "x"}).status_code == 400


def test_cascade_market_trace_and_comply_endpoints(local: TestClient) -> None:
    design = local.post("/api/cascade/design", json={"feed": "Pr=0.33,Nd=0.67", "purity": 0.999,
                                                      "beta": 1.55})  # fmt: skip
    assert design.json()["stages"] == 60  # the README's design: 60 stages (Xu's theory)
    bad = local.post("/api/cascade/design", json={"feed": "Qq=0.33,Nd=0.67", "purity": 0.999})
    assert bad.status_code == 400 and "unknown element symbol 'Qq'" in bad.json()["detail"]
    typo = local.post("/api/cascade/design", json={"feed": "Pr=0.3,Nd=0.7", "purity": 2})
    assert typo.status_code == 422 and typo.json()["detail"][0]["loc"] == ["body", "purity"]
    simulated = local.post(
        "/api/cascade/simulate", json={"document": (ROOT / "examples/cepr_nd_v1.yaml").read_text()}
    ).json()
    solution = solve(load_cascade(ROOT / "examples/cepr_nd_v1.yaml", None)[0])
    assert [p["organic_product"] for p in simulated["products"]] == pytest.approx(
        list(solution.organic_product), abs=1e-12
    )  # the same solver as the command line
    assert simulated["max_closure"] <= 1e-10
    assert set(simulated["figures"]) == {"profiles", "flows"}
    broken = local.post("/api/cascade/simulate", json={"document": "feed: {Ce: 1}\nn: true\n"})
    problems = broken.json()["detail"]["problems"]
    assert broken.status_code == 422 and any("document:2, column 'n'" in p for p in problems)
    assert not any("scratch" in p or "/" in p.split(":")[0] for p in problems)
    market = local.post("/api/market/clear", json={"year": 2024}).json()
    assert market["year"] == 2024 and market["max_imbalance_t"] < 1e-3
    assert "price_intervals" not in market
    ranges = local.post("/api/market/clear", json={"year": 2024, "price_intervals": True}).json()
    rows = ranges["price_intervals"]
    assert len(rows) == len(market["prices"]) and any(not r["determined"] for r in rows)
    assert any(r["high"] is None for r in rows)  # unbounded ends as null (strict JSON)
    traced = local.post("/api/trace", json={"element": "Dy", "facility": "lynas_malaysia"}).json()
    assert traced["shares"]["mining"] == {"AU": 1.0}
    bom = (ROOT / "examples/compliance/c5_servo_motor.yaml").read_text()
    checked = local.post("/api/comply", json={"document": bom}).json()
    verdicts = {v["shipment"]: v["china"]["verdict"] for v in checked["verdicts"]}
    assert verdicts == {
        "magnets_jp_de": "LICENCE_REQUIRED_IF_REACTIVATED",
        "motor_de_us": "NO_LICENCE",
    }  # fmt: skip  (docs/compliance.md, C5)
    assert len(checked["audit_sha256"]) == 64 and set(checked["figures"]) == set(verdicts)
    again = local.post("/api/comply", json={"document": bom}).json()
    assert again["audit_sha256"] == checked["audit_sha256"]
    report = local.post("/api/comply/report", json={"document": bom})
    assert report.status_code == 200 and checked["audit_sha256"] in report.text
    option = local.post("/api/comply", json={"document": bom, "options": ["part2_scope=wide"]})
    assert option.status_code == 400 and "part2_scope=narrow|broad" in option.json()["detail"]
    nowhere = local.post("/api/comply", json={"document": bom, "destination": "ZZ",
                                              "date": "2026-03-01"})  # fmt: skip
    assert nowhere.status_code == 422 and "ISO 3166-1" in json.dumps(nowhere.json())


def test_scenarios_are_validated_and_cannot_reach_server_paths(local: TestClient) -> None:
    listed = local.get("/api/scenarios").json()
    assert "baseline" in listed["builtin"] and listed["own"] == []
    escape = local.post("/api/scenarios/validate",
                        json={"document": "name: x\nextends: ../../etc/passwd\n"})  # fmt: skip
    assert escape.status_code == 400 and "is not a scenario name" in escape.json()["detail"]
    growth = "name: y\nextends: baseline\ndemand: {growth: [{end_use: default, rate_pct: -150}]}\n"
    checked = local.post("/api/scenarios/validate", json={"document": growth}).json()
    assert not checked["valid"] and "rate_pct" in checked["problems"][0]
    refused = local.post("/api/scenarios", json={"name": "y", "document": growth})
    assert refused.status_code == 422
    assert local.post("/api/scenarios", json={"name": "../x", "document": SHORT}).status_code == 422
    assert (
        local.post("/api/scenarios", json={"name": "short", "document": SHORT}).status_code == 201
    )
    assert local.get("/api/scenarios").json()["own"] == ["short"]
    read = local.get("/api/scenarios/short").json()
    assert read["yaml"] == SHORT and read["scenario"]["horizon"] == {"start": 2024, "end": 2026}
    block = {"id": "dy_tax", "start": 2025, "levers": {"export_taxes": [
        {"id": "t1", "elements": ["Dy"], "origin": ["china"], "rate_pct": 25}]}}  # fmt: skip
    added = local.post("/api/scenarios/add-lever", json={"document": SHORT, "block": block})
    document = added.json()["document"]
    assert "dy_tax" in document and "rate_pct: 25" in document
    valid = local.post("/api/scenarios/validate", json={"document": document}).json()
    assert valid == {"valid": True, "problems": []}
    block["levers"]["export_taxes"][0]["rate_pct"] = 150
    wrong = local.post("/api/scenarios/add-lever", json={"document": SHORT, "block": block})
    assert wrong.status_code == 422
    assert "block.levers.export_taxes.0.rate_pct" in wrong.json()["detail"]["problems"][0]
    builtin = local.post("/api/scenarios", json={"name": "baseline", "document": SHORT})
    assert builtin.status_code == 400


def test_a_tenant_sees_only_its_own_scenarios_jobs_and_results(tenants: TestClient) -> None:
    a, b = auth(ALICE), auth(BOB)
    assert tenants.post("/api/scenarios", json={"name": "short", "document": SHORT},
                        headers=a).status_code == 201  # fmt: skip
    job = tenants.post("/api/jobs", json={"scenario": "short", "runs": 2}, headers=a).json()
    assert job["state"] == "queued"
    assert tenants.get("/api/scenarios", headers=b).json()["own"] == []
    assert tenants.get("/api/jobs", headers=b).json() == []
    assert tenants.get(f"/api/jobs/{job['id']}", headers=b).status_code == 404
    assert tenants.delete(f"/api/jobs/{job['id']}", headers=b).status_code == 404
    assert tenants.get(f"/api/jobs/{job['id']}/results", headers=b).status_code == 404
    theirs = tenants.post("/api/jobs", json={"scenario": "short", "runs": 1}, headers=b)
    assert theirs.status_code == 400 and "no scenario 'short'" in theirs.json()["detail"]
    done = wait(tenants, job["id"], a, lambda r: r["state"] in ("done", "failed"))
    assert done["state"] == "done", done["error"]
    assert done["done_runs"] == 2 and done["progress"] == 1.0
    results = tenants.get(f"/api/jobs/{job['id']}/results", headers=a).json()
    assert results["runs"] == 2 and results["scenario"] == "short"
    figures = tenants.get(f"/api/jobs/{job['id']}/figures", headers=a).json()
    assert {"self_sufficiency", "china_share", "independence_50"} <= set(figures)
    assert figures["self_sufficiency"]["data"][1]["x"] == [2024, 2025, 2026]
    report = tenants.get(f"/api/jobs/{job['id']}/report", headers=a)
    assert report.status_code == 200 and "short: ensemble 1" in report.text
    events = tenants.get(f"/api/jobs/{job['id']}/events", headers=a)
    assert events.headers["content-type"].startswith("text/event-stream")
    assert '"state": "done"' in events.text
    stores = sorted(p.parent.name for p in (tenants.app.state.settings.workspace / "tenants")
                    .glob("*/results.duckdb"))  # fmt: skip
    assert stores == ["alice"]


def test_jobs_are_limited_cancelled_and_survive_a_killed_worker(local: TestClient) -> None:
    too_many = local.post("/api/jobs", json={"scenario": "baseline", "runs": 10**6})
    assert too_many.status_code == 400 and "outside 1..2000" in too_many.json()["detail"]
    headers: dict[str, str] = {}
    job = local.post("/api/jobs", json={"scenario": "baseline", "runs": 400}).json()
    wait(local, job["id"], headers, lambda r: r["state"] == "running")
    process = local.app.state.jobs.jobs[job["id"]].pid
    cancelled = local.delete(f"/api/jobs/{job['id']}").json()
    assert cancelled["state"] == "cancelled"
    with pytest.raises(ProcessLookupError):
        os.killpg(process, 0)  # the job's process group (Dask workers too) is gone
    second = local.post("/api/jobs", json={"scenario": "baseline", "runs": 400}).json()
    wait(local, second["id"], headers, lambda r: r["state"] == "running")
    os.killpg(local.app.state.jobs.jobs[second["id"]].pid, signal.SIGKILL)
    failed = wait(local, second["id"], headers, lambda r: r["state"] != "running")
    assert failed["state"] == "failed" and "killed (signal 9)" in failed["error"]
    assert local.get("/api/health").json() == {"status": "ok"}  # the server lives on


def test_a_job_resumes_after_a_server_restart_without_losing_or_repeating_runs(
    tmp_path: Path,
) -> None:
    config = settings(tmp_path)
    with TestClient(create_app(config)) as first:
        assert first.post("/api/scenarios", json={"name": "short", "document": SHORT}).is_success
        job = first.post("/api/jobs", json={"scenario": "short", "runs": 12}).json()
        wait(first, job["id"], {}, lambda r: r["done_runs"] >= 2)
        assert first.get(f"/api/jobs/{job['id']}").json()["state"] == "running"
    with TestClient(create_app(config)) as second:  # the server started again
        done = wait(second, job["id"], {}, lambda r: r["state"] in TERMINAL_STATES)
        assert done["state"] == "done", done["error"]
        assert done["restarts"] == 1 and done["ensemble"] == 1
    with duckdb.connect(str(tmp_path / "local.duckdb"), read_only=True) as store:
        runs = store.execute("SELECT count(*), count(DISTINCT run) FROM runs WHERE ensemble = 1")
        assert runs.fetchone() == (12, 12)
        rows = store.execute("SELECT count(*) FROM results WHERE ensemble = 1").fetchone()
        per_run = store.execute(
            "SELECT count(*) FROM results WHERE ensemble = 1 AND run = 0"
        ).fetchone()
    assert rows is not None and per_run is not None and rows[0] == 12 * per_run[0]


TERMINAL_STATES = ("done", "failed", "cancelled")


def test_the_openapi_schema_documents_every_endpoint(local: TestClient) -> None:
    schema = local.get("/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/api/dataset/tables",
        "/api/cascade/design",
        "/api/market/clear",
        "/api/jobs",
        "/api/jobs/{job_id}/events",
        "/api/comply",
        "/api/trace",
        "/api/scenarios",
    ):
        assert path in paths  # fmt: skip
    for path, methods in paths.items():
        for method, operation in methods.items():
            assert operation.get("description") or operation.get("summary"), (method, path)
    assert local.get("/docs").status_code == 200


def test_alias_bombs_are_refused_before_they_expand(local: TestClient) -> None:
    layers = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):  # 10^10 values once expanded
        prev, name = chr(96 + i), chr(97 + i)
        layers.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 10)}]")
    bomb = "\n".join(layers) + "\n"
    block = {"id": "x", "start": 2025, "levers": {}}
    added = local.post("/api/scenarios/add-lever", json={"document": bomb, "block": block})
    assert added.status_code == 422 and "aliases" in added.json()["detail"]["problems"][0]
    checked = local.post("/api/scenarios/validate", json={"document": "extends: baseline\n" + bomb})
    assert checked.status_code == 200 and "aliases" in checked.json()["problems"][0]
