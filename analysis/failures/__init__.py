"""RQ2, the failure analysis: where converters fail, what users see and why, for any study.

- :mod:`analysis.failures.tables` — Tables 8, 9, 10, 14, 16 and the headline findings as tidy
  frames of the labelled issues and the codebook;
- :mod:`analysis.failures.agreement` — inter-rater agreement (Cohen's kappa, % agreement);
- :mod:`analysis.failures.artifacts` — the registered artifacts: LaTeX, figures, published checks;
- :mod:`analysis.failures.compare` — two studies side by side (``convfail analyze --compare``).
"""
