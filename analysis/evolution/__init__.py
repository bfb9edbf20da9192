"""RQ3: does ONNX's evolution bring converter failures?

- :mod:`analysis.evolution.opsets` — every operator version of the installed ``onnx`` package,
  ONNX release dates, the artifact's ``onnx_opset_diff.json``;
- :mod:`analysis.evolution.tables` — changes per opset, sampled failures per release and per
  quarter;
- :mod:`analysis.evolution.stats` — the test of H_RQ3 (Spearman, permutation p-values);
- :mod:`analysis.evolution.figures` — Figures 5 and 6;
- :mod:`analysis.evolution.artifacts` — the registered artifacts and their notes.
"""
