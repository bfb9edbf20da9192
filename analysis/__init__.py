"""Analysis stage: pure functions from the datasets to the paper's tables, figures and tests.

One package per theme of the paper, the shared machinery at the top:

- :mod:`analysis.registry` — the artifact registry and what an artifact reads and returns
  (:class:`~analysis.registry.AnalysisContext`, :class:`~analysis.registry.ArtifactResult`,
  :class:`~analysis.registry.Check`, :class:`~analysis.registry.Outcome`); it lists each
  theme's artifact ids, so building one artifact imports only its theme;
- :mod:`analysis.runner` — build and write every artifact in a small pool of workers;
- :mod:`analysis.report` — ``REPORT.md`` and ``reproduction.json``;
- :mod:`analysis.published` — the paper's published numbers and their checks against ours;
- :mod:`analysis.cli` — ``convfail reproduce`` and ``convfail analyze``;
- :mod:`analysis.render` — the look of every figure and LaTeX table.

Themes, each with ``artifacts.py`` holding its registered artifacts:

- :mod:`analysis.failures` — RQ2: Tables 8–10, 14, 16, the findings, inter-rater agreement, two
  studies side by side;
- :mod:`analysis.survey` — Theme 1 (RQ1): the practitioner survey, from import to tables, and
  ``convfail survey``;
- :mod:`analysis.evolution` — RQ3: ONNX opsets over time, failures over time, Spearman's test;
- :mod:`analysis.outcomes` — RQ4 macro: Table 11, the outcomes of converting synthetic models;
- :mod:`analysis.sequences` — RQ4 micro: operators and operator sequences of mismatching models.

Inside a theme, modules are named by role: ``data`` (read the inputs), ``tables`` (tidy frames),
``stats``, ``figures``, ``artifacts``, ``cli``.
"""
