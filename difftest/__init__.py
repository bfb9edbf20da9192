"""Differential testing of model converters (RQ4 of the ISSTA 2024 study, and beyond).

Convert a source model (PyTorch or TensorFlow) to ONNX, run both on the same seeded inputs in
the source framework and in ONNX Runtime, compare, and classify the outcome. Every model runs
outside the supervising process, in a worker that is replaced when a model crashes or hangs, so
a native crash or a hang is recorded instead of ending the campaign.

The campaign files it writes (names, record keys, outcome names, tolerance keys, the
graph-structure schema, the reader and the writers) are defined once, in
:mod:`convfail.campaign_files`, which :mod:`analysis` reads through too; the folders come from
:mod:`convfail.paths`.

Modules, each with one job:

- :mod:`difftest.synthetic` — seeded random graphs, framework-neutral (one spec, two builders);
- :mod:`difftest.torch_models`, :mod:`difftest.tf_models` — build a spec (or a real
  architecture, or a purpose-built probe) as a runnable source model;
- :mod:`difftest.sources` — resolve a job to a :class:`~difftest.sources.SourceModel`;
- :mod:`difftest.converters` — the converter interface and the registered converters;
- :mod:`difftest.compare` — tolerance and NaN/Inf logic;
- :mod:`difftest.outcomes`, :mod:`difftest.signature` — which stage failure gives which outcome,
  error signatures;
- :mod:`difftest.graph_json` — the structure of each converted graph, for its small file;
- :mod:`difftest.runner` — one job, stage by stage, in the current process;
- :mod:`difftest.isolation` — jobs in worker processes, with a timeout and a memory cap;
- :mod:`difftest.campaign` — jobs of a campaign, resume, local pool or Dask;
- :mod:`difftest.artifact_import` — the published results in the same schema;
- :mod:`difftest.cli` — the ``convfail difftest`` commands;
- :mod:`difftest.localize` — fault localization and repair of a converted model.
"""
