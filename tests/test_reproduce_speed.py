"""What keeps `convfail reproduce` quick without changing its results: one table loads only its
own theme from start to finish, and the forest plots draw no minor ticks on their log axes."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
from matplotlib.ticker import NullLocator

from analysis.sequences.figures import odds_figure

# Libraries and artifact modules Table 8 does not need: each costs start-up time if imported.
NOT_FOR_TABLE08 = (
    "sklearn",
    "statsmodels",
    "scipy",
    "onnx",
    "torch",
    "analysis.survey.artifacts",
    "analysis.evolution.artifacts",
    "analysis.sequences.artifacts",
    "analysis.outcomes.artifacts",
    "analysis.conversions.artifacts",
)


def test_one_table_imports_nothing_of_the_other_themes_end_to_end(tmp_path):
    probe = (
        "import sys\n"
        "from convfail.cli import main\n"
        "try:\n"
        f"    main(['reproduce', '--only', 'table08_locations', '--out', {str(tmp_path)!r}])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        f"print('imported:', ','.join(m for m in {NOT_FOR_TABLE08!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=300
    )
    imported = [line for line in done.stdout.splitlines() if line.startswith("imported:")]
    assert imported == ["imported: "], done.stdout
    assert (tmp_path / "tables" / "table08_locations.csv").is_file()


def _tests(features: int) -> pd.DataFrame:
    rows = [
        {
            "test": "fisher",
            "kind": "operator",
            "campaign": "c",
            "group": group,
            "policy": "default",
            "feature": f"Op{i}",
            "odds_ratio": 10.0 ** (i - features / 2),
            "ci_low": 10.0 ** (i - features / 2 - 3),
            "ci_high": 10.0 ** (i - features / 2 + 3),
            "significant": i % 2 == 0,
            "ci_level": 0.99,
        }
        for group in ("all", "dynamo")
        for i in range(features)
    ]
    return pd.DataFrame(rows)


def test_the_forest_plots_have_decade_ticks_only():
    fig = odds_figure(_tests(8), "operator")
    assert len(fig.axes) == 2
    for ax in fig.axes:
        assert ax.get_xscale() == "log"
        assert isinstance(ax.xaxis.get_minor_locator(), NullLocator)
        assert len(ax.xaxis.get_minorticklocs()) == 0
        majors = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert len(majors) >= 3
