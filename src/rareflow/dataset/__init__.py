"""The dataset: schemas, loading with user overrides, validation, and shares by stage."""

from rareflow.dataset.dataset import DataQueryError, Dataset
from rareflow.dataset.errors import DataIssue, DataValidationError
from rareflow.dataset.loader import bundled_data_dir, check_dataset, load_dataset
from rareflow.dataset.shares import StageShares, stage_shares

__all__ = [
    "DataIssue",
    "DataQueryError",
    "DataValidationError",
    "Dataset",
    "StageShares",
    "bundled_data_dir",
    "check_dataset",
    "load_dataset",
    "stage_shares",
]
