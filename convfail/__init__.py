"""convfail core: what every stage shares (CLI, paths, records, dataset I/O, codebook, errors).

Stage packages (``mining``, ``labeling``, ``analysis``, ``difftest``) depend on this package and
never on each other; they exchange data through the documented files under ``data/``.
"""

__version__ = "0.1.0"
