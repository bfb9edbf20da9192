"""RQ4 macro: Table 11, the outcomes of converting synthetic models, published and fresh.

- :mod:`analysis.outcomes.data` — a campaign's ``results.jsonl`` as one row per model;
- :mod:`analysis.outcomes.tables` — outcome counts in the paper's grouping and difftest's classes;
- :mod:`analysis.outcomes.figures` — outcome shares by model size;
- :mod:`analysis.outcomes.artifacts` — the registered Table 11 artifact.
"""
