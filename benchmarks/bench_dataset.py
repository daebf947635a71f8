"""Cost of validation: loading the bundled dataset against raw parsing of the same files.

Prints the median time of ``load_dataset()`` (read, validate every row and reference, build the
DataFrames) and of a baseline that only parses the same CSV/YAML files with pandas and PyYAML,
both measured in this run, and their ratio.

    python benchmarks/bench_dataset.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import pandas as pd
import yaml

from rareflow.dataset.loader import bundled_data_dir, load_dataset


def raw_parse() -> None:
    directory = bundled_data_dir()
    for path in sorted(directory.glob("*.csv")):
        pd.read_csv(path)
    for path in sorted(directory.glob("*.yaml")):
        yaml.safe_load(path.read_text(encoding="utf-8"))


def median_seconds(function: Callable[[], object], repeat: int) -> float:
    function()  # warm-up: imports and file cache
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    baseline = median_seconds(raw_parse, args.repeat)
    loaded = median_seconds(load_dataset, args.repeat)
    print(f"raw parse (pandas + PyYAML): {1000 * baseline:8.1f} ms")
    print(f"load_dataset (validated):    {1000 * loaded:8.1f} ms")
    print(f"ratio load / raw parse:      {loaded / baseline:8.2f}")


if __name__ == "__main__":
    main()
