"""Reading a matrix run's records (``data/difftest/<name>/matrix.jsonl``, written by
``convfail difftest matrix``) without importing the difftest stage."""

from __future__ import annotations

from convfail.matrix_files import read_results as read_matrix
from convfail.matrix_files import results_path as matrix_results_path

__all__ = ["matrix_results_path", "read_matrix"]
