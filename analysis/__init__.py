"""Analysis stage: pure functions from the datasets to the paper's tables, figures and tests."""
