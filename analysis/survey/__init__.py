"""Theme 1 (RQ1), the practitioner survey: from a Qualtrics-style export to the paper's tables.

- :mod:`analysis.survey.catalogue` — the instrument: questions, options, coding sheets;
- :mod:`analysis.survey.importer` — an export (and its coded open answers) validated against the
  catalogue and written as CSV (``convfail data import-artifact --only survey``);
- :mod:`analysis.survey.data` — an imported survey folder as frames;
- :mod:`analysis.survey.stats` — proportions with their denominators and Wilson intervals;
- :mod:`analysis.survey.tables` — Table 3, frameworks, Findings 1–3, Tables 4 and 5;
- :mod:`analysis.survey.render` — their LaTeX and bar charts;
- :mod:`analysis.survey.artifacts` — the list of survey artifacts, registered once from it;
- :mod:`analysis.survey.cli` — ``convfail survey import`` / ``analyze`` for a new export.
"""
