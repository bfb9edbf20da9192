"""Differential testing of model converters (RQ4 of the ISSTA 2024 study, and beyond).

Convert a source model (PyTorch or TensorFlow) to ONNX, run both on the same seeded inputs in
the source framework and in ONNX Runtime, compare, and classify the outcome. Every model runs in
its own process, so a native crash or a hang is recorded instead of ending the campaign.

Modules, each with one job:

- :mod:`difftest.synthetic` — seeded random graphs, framework-neutral (one spec, two builders);
- :mod:`difftest.torch_models`, :mod:`difftest.tf_models` — build a spec (or a real
  architecture, or a purpose-built probe) as a runnable source model;
- :mod:`difftest.sources` — resolve a job to a :class:`~difftest.sources.SourceModel`;
- :mod:`difftest.converters` — the converter interface and the registered converters;
- :mod:`difftest.compare` — tolerance and NaN/Inf logic;
- :mod:`difftest.outcomes`, :mod:`difftest.signature` — outcome classes, error signatures;
- :mod:`difftest.graph_json` — the small structure file of each converted graph;
- :mod:`difftest.runner` — one job, stage by stage, in the current process;
- :mod:`difftest.isolation` — one job in its own process, with a timeout and a memory cap;
- :mod:`difftest.campaign` — jobs of a campaign, resume, local pool or Dask;
- :mod:`difftest.artifact_import` — the published results in the same schema.
"""
