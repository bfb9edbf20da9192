"""How every artifact looks: figures and LaTeX tables in the paper's layout.

- :mod:`analysis.render.plotting` — paper-sized figure helpers (stacked bars, count heat maps)
  and :func:`~analysis.render.plotting.save_figure`, which writes PNG and PDF reproducibly;
- :mod:`analysis.render.latex` — booktabs tables with the converter columns (TF / PT / total).
"""
