"""Bad input that once ended in an internal error (exit 70) must end in a clear error naming
the option, file or field (exit 1 or 2), in a subprocess as a user would run it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parent.parent / "examples" / "compliance"


def rareflow(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rareflow", *args],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("cascade", "design", "--feed", "Qq=0.33,Nd=0.67", "--purity", "0.999"), "'Qq'"),
        (("cascade", "design", "--feed", "=-1,Ce=nan", "--purity", "0.999"), "'=-1'"),
        (("cascade", "split", "--feed", "Pr=0.5,Nd=0.5", "--cut", "Pr/Xx", "--purity", "0.99"),
         "--cut"),
        (("cascade", "flowsheet", "--ore", "mountain_pass", "--products", "La:1.5;Zz:0.9"),
         "--products"),
    ],
)  # fmt: skip
def test_unknown_element_symbols_are_named(args: tuple[str, ...], named: str) -> None:
    done = rareflow(*args)
    assert done.returncode == 1, done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    assert named in done.stderr and "unknown element symbol" in done.stderr


def test_a_bom_provenance_element_is_checked_with_its_line(tmp_path: Path) -> None:
    text = (EXAMPLES / "defence_magnet_2028.yaml").read_text()
    assert "provenance: {element: Dy," in text
    bom = tmp_path / "bom.yaml"
    bom.write_text(text.replace("provenance: {element: Dy,", "provenance: {element: Xx,"))
    done = rareflow("comply", str(bom))
    assert done.returncode == 1, done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    line = 1 + text[: text.index("provenance: {element: Dy,")].count("\n")
    assert "bom.yaml" in done.stderr and f":{line}" in done.stderr
    assert "Xx" in done.stderr
