"""Fuzzing every input the command line reads: mutated scenario, lever, bill-of-materials,
cascade and dataset files, and command lines with odd values.

Each case runs the real command in a worker process (the ``rareflow`` app in-process, so a case
costs milliseconds, not an interpreter start) with a time limit and a memory limit, and is
classified by how it ended: ``ok`` (exit 0), ``refused`` (exit 1 or 2: a clear error),
``internal`` (exit 70 or an exception escaping the command), ``hang`` (over the time limit) or
``memory`` (over the memory limit). Goal: no internal errors, no hangs.

    python benchmarks/fuzz_inputs.py [--cases 10000] [--seed 0] [--workers 2] [--report F]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import re
import resource
import signal
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "src" / "rareflow" / "data"
EXAMPLES = ROOT / "examples"
SECONDS = 20
"""Time limit of one case."""
MEMORY_BYTES = 3 * 1024**3
"""Address-space limit of a worker."""
ODD = ["", "-1", "0", "1e400", "-1e400", "nan", "inf", ".inf", "true", "null", "~", "[]", "{}",
       "abc", "Qq", "1" * 400, "0.000000001", "9" * 20, "'", '"', "é", "\u202e", "*x", "&a",
       "!!python/object:os.system", "2024-13-45", "1,5", " ", "-0", "1e-400"]  # fmt: skip
"""Values that inputs should refuse or handle."""
CORPORA = {
    "scenario": sorted((DATA / "scenarios").glob("*.yaml")),
    "bom": sorted((EXAMPLES / "compliance").glob("*.yaml")),
    "cascade": sorted(EXAMPLES.glob("*.yaml")),
    "table": [*sorted(DATA.glob("*.csv")), DATA / "market.yaml", DATA / "policies.yaml"],
}


class HangError(Exception):
    """A case ran over its time limit."""


def mutate(text: bytes, rng: random.Random) -> tuple[bytes, str]:
    """One to three random edits of a file; returns the bytes and what was done."""
    done = []
    for _ in range(rng.randint(1, 3)):
        lines = text.split(b"\n")
        kind = rng.choice(["number", "word", "delete", "duplicate", "swap", "bytes", "truncate",
                           "structure", "indent"])  # fmt: skip
        index = rng.randrange(len(lines)) if lines else 0
        if kind == "number":
            numbers = list(re.finditer(rb"-?\d+(\.\d+)?(e-?\d+)?", text))
            if numbers:
                found = rng.choice(numbers)
                text = text[: found.start()] + rng.choice(ODD).encode() + text[found.end() :]
        elif kind == "word":
            words = list(re.finditer(rb"[A-Za-z_][A-Za-z0-9_]*", text))
            if words:
                found = rng.choice(words)
                text = text[: found.start()] + rng.choice(ODD).encode() + text[found.end() :]
        elif kind == "delete" and lines:
            del lines[index]
            text = b"\n".join(lines)
        elif kind == "duplicate" and lines:
            lines.insert(index, lines[index])
            text = b"\n".join(lines)
        elif kind == "swap" and len(lines) > 1:
            other = rng.randrange(len(lines))
            lines[index], lines[other] = lines[other], lines[index]
            text = b"\n".join(lines)
        elif kind == "bytes":
            at = rng.randrange(len(text) + 1)
            junk = rng.choice([b"\x00", b"\xff\xfe", b"\x1b[2J", b"\xe9", b"\t\t", b"\r", b"\x85"])
            text = text[:at] + junk + text[at:]
        elif kind == "truncate":
            text = text[: rng.randrange(len(text) + 1)]
        elif kind == "structure" and lines:
            line = lines[index]
            if b":" in line:
                key, _, _ = line.partition(b":")
                lines[index] = key + b": " + rng.choice([b"[1, 2]", b"{a: 1}", b"- x", b"|"])
                text = b"\n".join(lines)
        elif kind == "indent" and lines:
            lines[index] = b"   " + lines[index]
            text = b"\n".join(lines)
        done.append(kind)
    return text, "+".join(done)


def command_line(rng: random.Random) -> list[str]:
    """A command line with odd values in some options."""

    def odd(valid: str) -> str:
        return valid if rng.random() < 0.5 else rng.choice(ODD)

    choices = [
        ["cascade", "design", "--feed", odd("Pr=0.33,Nd=0.67"), "--purity", odd("0.999"),
         "--ratio-to-min", odd("1.2")],
        ["cascade", "split", "--feed", odd("La=0.3,Ce=0.3,Pr=0.1,Nd=0.3"), "--cut", odd("Ce/Pr"),
         "--purity", odd("0.99"), "--factor", odd("Nd/Pr=1.5")],
        ["cascade", "flowsheet", "--ore", odd("mountain_pass"), "--products",
         odd("La:0.99;Ce:0.99;Pr+Nd:0.99")],
        ["cascade", "cost", "--ore", odd("mountain_pass"), "--capacity", odd("10000")],
        ["data", "show", odd("facilities"), "--limit", odd("5")],
        ["data", "source", odd("usgs_mcs2026_ree")],
        ["data", "shares", "--stage", odd("separation"), "--year", odd("2024")],
        ["market", "clear", "--year", odd("2024")],
        ["trace", "--element", odd("Dy"), "--year", odd("2024")],
        ["scenario", "check", odd("baseline")],
        ["game", odd("baseline"), "--years", odd("2026"), "--players", odd("china"),
         "--security", odd("47")],
        ["results", "show", "--store", odd("nothing.duckdb")],
    ]  # fmt: skip
    return rng.choice(choices)


def make_case(number: int, seed: int, workdir: Path) -> dict[str, Any]:
    """Case ``number`` of a run (deterministic in ``seed``)."""
    rng = random.Random(f"{seed}:{number}")
    kind = rng.choice(["scenario", "bom", "cascade", "table", "args", "args"])
    if kind == "args":
        return {"number": number, "kind": kind, "args": command_line(rng), "mutation": "args"}
    source = rng.choice(CORPORA[kind])
    text, mutation = mutate(source.read_bytes(), rng)
    if kind == "table":
        folder = workdir / f"data{number}"
        folder.mkdir()
        (folder / source.name).write_bytes(text)
        args = ["data", "check", "--data", str(folder)]
    else:
        path = workdir / f"case{number}{source.suffix}"
        path.write_bytes(text)
        args = {"scenario": ["scenario", "check", str(path)], "bom": ["comply", str(path)],
                "cascade": ["cascade", "simulate", str(path)]}[kind]  # fmt: skip
    return {"number": number, "kind": kind, "args": args, "mutation": f"{source.name}:{mutation}"}


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))


def _alarm(signum: int, frame: object) -> None:
    raise HangError


def run_case(case: dict[str, Any]) -> dict[str, Any]:
    """Run one case in this worker and classify how it ended."""
    from typer.testing import CliRunner

    from rareflow.cli import app

    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(SECONDS)
    began = time.perf_counter()
    try:
        result = CliRunner().invoke(app, case["args"], catch_exceptions=True)
        error = result.exception
        if isinstance(error, HangError):
            outcome, detail = "hang", ""
        elif isinstance(error, MemoryError):
            outcome, detail = "memory", ""
        elif error is not None and not isinstance(error, SystemExit):
            outcome, detail = "internal", f"{type(error).__name__}: {error}"[:300]
        elif result.exit_code == 0:
            outcome, detail = "ok", ""
        elif result.exit_code in (1, 2):
            outcome, detail = "refused", ""
        else:
            outcome, detail = "internal", f"exit {result.exit_code}: {result.output[-300:]}"
    except HangError:
        outcome, detail = "hang", ""
    except MemoryError:
        outcome, detail = "memory", ""
    finally:
        signal.alarm(0)
    return {**case, "outcome": outcome, "detail": detail,
            "seconds": round(time.perf_counter() - began, 3)}  # fmt: skip


def fuzz(cases: int, seed: int, workers: int) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as folder:
        made = [make_case(n, seed, Path(folder)) for n in range(cases)]
        context = multiprocessing.get_context("fork")
        with context.Pool(workers, initializer=_limit_memory, maxtasksperchild=500) as pool:
            return list(pool.imap_unordered(run_case, made, chunksize=4))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--report", type=Path, default=None)
    options = parser.parse_args()
    began = time.perf_counter()
    results = fuzz(options.cases, options.seed, options.workers)
    seconds = time.perf_counter() - began
    outcomes = Counter(r["outcome"] for r in results)
    by_kind = Counter((r["kind"], r["outcome"]) for r in results)
    print(
        f"{len(results)} cases in {seconds:.0f} s (seed {options.seed}, {options.workers} workers)"
    )
    for outcome in ("ok", "refused", "internal", "hang", "memory"):
        print(f"  {outcome:9s} {outcomes.get(outcome, 0):6d}")
    for kind in sorted({k for k, _ in by_kind}):
        print(f"  {kind:9s} " + ", ".join(f"{o} {n}" for (k, o), n in sorted(by_kind.items())
                                           if k == kind))  # fmt: skip
    bad = [r for r in results if r["outcome"] in ("internal", "hang", "memory")]
    for r in sorted(bad, key=lambda r: r["number"])[:20]:
        print(f"  case {r['number']} {r['outcome']}: {' '.join(r['args'])} [{r['mutation']}] "
              f"{r['detail']}")  # fmt: skip
    if options.report is not None:
        options.report.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
