"""RQ4 micro: which operators and operator sequences do mismatching models hold?

- :mod:`analysis.sequences.kgrams` — op graphs, their input-to-output paths and k-gram sets, and
  the sparse index of features per model;
- :mod:`analysis.sequences.data` — the models of a difftest campaign that ran, with their op
  graphs and mismatch labels;
- :mod:`analysis.sequences.corpus` — a test-suite corpus (any folder of ONNX models; by default
  the installed ``onnx`` package's backend tests);
- :mod:`analysis.sequences.groups` — the paper's sequence questions as set operations;
- :mod:`analysis.sequences.pairwise` — the paper's slow pair-by-pair method, the reference the
  k-gram answers are tested against;
- :mod:`analysis.sequences.stats` — Fisher tests with Benjamini–Hochberg, logistic regression;
- :mod:`analysis.sequences.tables` — Tables 12, 15 and the tests for one campaign;
- :mod:`analysis.sequences.figures` — forest plots of odds ratios;
- :mod:`analysis.sequences.artifacts` — the registered artifacts over every graph campaign;
- :mod:`analysis.sequences.random_structures` — random graph structures with planted motifs, for
  tests and benchmarks.
"""
