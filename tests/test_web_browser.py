"""The dashboard in headless Chromium (Debian's package, driven by Playwright) against
``rareflow serve`` on a loopback port with two tenants: run a small ensemble and see its fan
chart drawn, upload a BOM and see its verdicts, and check that the other tenant sees no job.
Screenshots are written next to the test's files."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ALICE, BOB = "alice-token-0123456789", "bob-token-9876543210xx"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("serve")
    port = free_port()
    environment = {**os.environ, "RAREFLOW_TOKENS": f"alice:{ALICE},bob:{BOB}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "rareflow", "serve", "--port", str(port), "--workspace",
         str(folder / "ws"), "--store", str(folder / "store.duckdb")],
        env=environment, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{url}/api/session", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    else:
        process.kill()
        raise AssertionError(process.stdout.read().decode() if process.stdout else "no server")
    yield url
    os.killpg(process.pid, 15)
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


def signed_in(browser: Any, url: str, token: str) -> tuple[Any, list[str]]:
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(url)
    page.wait_for_selector("#login:not([hidden])")
    page.fill("#token", token)
    page.click("#login button")
    page.wait_for_selector("#scenario option", state="attached")
    return page, problems


def test_run_an_ensemble_and_see_its_fan_chart(server: str, browser: Any, tmp_path: Path) -> None:
    page, problems = signed_in(browser, server, ALICE)
    page.click("#load-scenario")  # an editable copy of the selected scenario
    page.fill(
        "#scenario-yaml", "name: short\nextends: baseline\nhorizon: {start: 2024, end: 2026}\n"
    )
    page.fill("#scenario-name", "short")
    page.select_option("#lever-kind", "export_taxes")  # a lever block from the form
    page.fill("#lever-id", "dy_tax")
    page.fill("#lever-elements", "Dy")
    page.fill("#lever-value", "25")
    page.fill("#lever-start", "2025")
    page.click("#add-lever")
    page.wait_for_function("document.getElementById('scenario-yaml').value.includes('dy_tax')")
    assert "rate_pct: 25" in page.input_value("#scenario-yaml")
    page.click("#validate")
    page.wait_for_function("document.getElementById('message').textContent === 'valid'")
    page.click("#save")
    page.wait_for_selector("#scenario option[value=short]", state="attached")
    page.select_option("#scenario", "short")
    page.fill("#runs-count", "2")
    page.click("#run")
    page.wait_for_selector("#jobs tr[data-state=done]", timeout=180_000)
    page.click("#jobs tr[data-state=done] button:has-text('Show')")
    page.wait_for_selector("[data-figure=self_sufficiency] svg.main-svg")
    lines = page.locator("[data-figure=self_sufficiency] .scatterlayer .trace").count()
    page.screenshot(path=str(tmp_path / "fan-chart.png"))
    assert lines >= 8  # NdPr, Dy, Tb, Ga: a band and a median each
    assert page.locator("#job-figures .figure").count() >= 10
    assert problems == []


def test_upload_a_bom_and_see_the_verdicts(server: str, browser: Any, tmp_path: Path) -> None:
    page, problems = signed_in(browser, server, ALICE)
    page.click("button[data-tab=comply]")
    page.set_input_files("#bom-file", str(ROOT / "examples/compliance/c5_servo_motor.yaml"))
    page.wait_for_function("document.getElementById('bom-yaml').value.includes('servo_motor')")
    page.click("#check")
    page.wait_for_selector("#verdicts td")
    text = page.inner_text("#verdicts")
    page.screenshot(path=str(tmp_path / "verdicts.png"))
    assert "LICENCE_REQUIRED_IF_REACTIVATED" in text and "NO_LICENCE" in text
    assert page.locator("#bom-figures svg.main-svg").count() >= 2  # an item tree per shipment
    assert "audit SHA-256" in page.inner_text("#audit")
    assert problems == []


def test_design_and_simulate_a_cascade_and_browse_the_data(
    server: str, browser: Any, tmp_path: Path
) -> None:
    page, problems = signed_in(browser, server, BOB)
    page.click("button[data-tab=cascade]")
    page.click("#design")
    page.wait_for_selector("#design-table td")
    assert "stages" in page.inner_text("#design-table")
    page.click("#simulate")
    page.wait_for_selector("#cascade-figures .figure svg.main-svg")
    products = page.inner_text("#cascade-table")
    assert "e-" in products  # a trace impurity keeps its exponent instead of showing 0
    assert "solver: " in page.inner_text("#cascade-notes")
    page.screenshot(path=str(tmp_path / "cascade.png"), full_page=True)
    # a binary below its S_min (2.5 for beta 1.5 and an even feed): the result says so
    page.fill("#cascade-yaml", "feed: {Pr: 0.5, Nd: 0.5}\nfeed_phase: aqueous\nn: 30\nm: 30\n"
              "S: 2.3\nW: 1.8\nseparation_factors: {Pr: 1.0, Nd: 1.5}\n")  # fmt: skip
    page.click("#simulate")
    page.wait_for_function(
        "document.querySelector('#cascade-notes').textContent.includes('below S_min')"
    )
    page.click("button[data-tab=data]")
    page.click("#show-table")
    page.wait_for_selector("#table-rows td")
    page.fill("#source-id", "usgs_mcs2025_ree")
    page.click("#show-source")
    page.wait_for_selector("#source a")
    assert "U.S. Geological Survey" in page.inner_text("#source")
    assert problems == []


def test_another_tenant_does_not_see_the_job(server: str, browser: Any, tmp_path: Path) -> None:
    request = urllib.request.Request(
        f"{server}/api/jobs", data=json.dumps({"scenario": "baseline", "runs": 1}).encode(),
        headers={"Authorization": f"Bearer {ALICE}", "Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as response:
        job = json.loads(response.read())
    alice, _ = signed_in(browser, server, ALICE)
    alice.wait_for_selector(f"#jobs tr[data-job='{job['id']}']")
    page, problems = signed_in(browser, server, BOB)
    page.wait_for_timeout(1500)  # the job table refreshes every second
    page.screenshot(path=str(tmp_path / "other-tenant.png"))
    assert page.locator("#jobs tbody tr").count() == 0
    assert page.locator("#scenario option[value=short]").count() == 0
    assert problems == []
