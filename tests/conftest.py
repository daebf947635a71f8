"""Shared fixtures: the bundled dataset loaded once per session, and broken-copy helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

from rareflow.dataset.dataset import Dataset
from rareflow.dataset.loader import bundled_data_dir, load_dataset


@pytest.fixture(scope="session")
def dataset() -> Dataset:
    return load_dataset()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return bundled_data_dir()


def write(directory: Path, name: str, text: str) -> Path:
    """Write one override file (dedented text) into ``directory``."""
    import textwrap

    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path
