"""LaTeX renderings of the tidy tables in the paper's layout (booktabs, TF / PT / total)."""

from __future__ import annotations

import pandas as pd

COLUMNS = [("tf2onnx", "TF"), ("torch.onnx", "PT"), ("total", "Total")]
REFERENCE = ("dl_compilers", "DL compilers")


def _escape(text: str) -> str:
    return text.replace("&", r"\&").replace("%", r"\%").replace("_", r"\_")


def wrap_table(body: list[str], spec: str, header: str, caption: str, label: str) -> str:
    """A booktabs table environment around ready-made rows."""
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{_escape(caption)}}}",
        rf"\label{{{label}}}",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        header + r" \\",
        r"\midrule",
        *body,
        r"\bottomrule",
        r"\end{tabular}",
        r"\end{table}",
    ]
    return "\n".join(lines) + "\n"


def _cell(frame: pd.DataFrame, converter: str, with_percent: bool) -> str:
    row = frame[frame["converter"] == converter]
    if row.empty:
        return "--"
    count = int(row["count"].iloc[0])
    if with_percent and "percent" in row:
        return f"{count} ({row['percent'].iloc[0]:.0f}\\%)"
    return str(count)


def count_table(
    table: pd.DataFrame, column: str, labels: dict[str, str], caption: str, label: str
) -> str:
    """Category rows, converter columns (with the DL-compiler column when the table has it)."""
    columns = list(COLUMNS)
    if (table["converter"] == REFERENCE[0]).any():
        columns.append(REFERENCE)
    body = []
    for category, rows in table.groupby(column, sort=False):
        cells = [_cell(rows, conv, conv == "total") for conv, _ in columns]
        body.append(" & ".join([_escape(labels.get(category, category)), *cells]) + r" \\")
    totals = table.groupby("converter")["count"].sum()
    body += [
        r"\midrule",
        " & ".join(["Total", *[str(int(totals.get(c, 0))) for c, _ in columns]]) + r" \\",
    ]
    header = " & ".join([_escape(column.capitalize()), *[h for _, h in columns]])
    return wrap_table(body, "l" + "r" * len(columns), header, caption, label)


def cause_table(table: pd.DataFrame, labels: dict[str, str], sub_labels: dict[str, str]) -> str:
    """Table 14: causes, indented sub-causes, converter columns and the DL-compiler column."""
    columns = [*COLUMNS, REFERENCE]
    body = []
    for (cause, sub), rows in table.groupby(["cause", "subcause"], sort=False):
        name = labels.get(cause, cause)
        if sub:
            name = f"{name} -- {sub_labels.get(sub, sub)}"
        cells = [_cell(rows, conv, conv == "total") for conv, _ in columns]
        body.append(" & ".join([_escape(name), *cells]) + r" \\")
    header = " & ".join(["Cause", *[h for _, h in columns]])
    return wrap_table(body, "lrrrr", header, "Failure causes", "tab:causes")


def cross_table(
    table: pd.DataFrame,
    cause_labels: dict[str, str],
    symptom_labels: dict[str, str],
    caption: str,
    label: str,
) -> str:
    """Cause rows; for each converter (and total) one column per symptom."""
    symptoms = list(dict.fromkeys(table["symptom"]))
    body = []
    for cause, rows in table.groupby("cause", sort=False):
        cells = []
        for conv, _ in COLUMNS:
            for symptom in symptoms:
                match = rows[(rows["converter"] == conv) & (rows["symptom"] == symptom)]
                cells.append(str(int(match["count"].iloc[0])) if not match.empty else "0")
        body.append(" & ".join([_escape(cause_labels.get(cause, cause)), *cells]) + r" \\")
    groups = (
        " & ".join([""] + [rf"\multicolumn{{{len(symptoms)}}}{{c}}{{{h}}}" for _, h in COLUMNS])
        + r" \\"
    )
    header = (
        groups
        + "\n"
        + " & ".join(
            ["Cause", *[_escape(symptom_labels.get(s, s)) for _ in COLUMNS for s in symptoms]]
        )
    )
    return wrap_table(body, "l" + "r" * len(symptoms) * len(COLUMNS), header, caption, label)
