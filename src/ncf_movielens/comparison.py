"""How the comparison reads as text: ``mean ± std`` cells, and the terminal
view the run prints last (the ``ComparisonReport`` hook)."""

from __future__ import annotations

import pandas as pd


def format_cell(mean: float, std: float, runs: int) -> str:
    return f"{mean:.4f} ± {std:.4f}" if runs > 1 else f"{mean:.4f}"


def comparison_text(table: pd.DataFrame) -> str:
    """The comparison table for a terminal: one block per protocol, one column
    per model (models as rows would be far wider than a terminal), cells as
    ``mean ± std`` where a model ran with several seeds."""
    table = table.set_index("model")
    means = [c for c in table.columns if "/" in c and not c.endswith(" std")]
    cells = pd.DataFrame(index=table.index, columns=means, dtype=object)
    for column in means:
        for model in table.index:
            runs = int(table.loc[model, "runs"])
            std = table[f"{column} std"][model] if runs > 1 else 0.0
            cells.loc[model, column] = format_cell(table.loc[model, column], std, runs)
    blocks = []
    for protocol in dict.fromkeys(c.split("/")[0] for c in means):
        columns = [c for c in means if c.startswith(f"{protocol}/")]
        # The block names its protocol; its rows need only the metric.
        view = cells[columns].rename(columns=lambda c: c.split("/", 1)[1])
        view.insert(0, "runs (seeds)", table["runs"].astype(int).astype(str))
        blocks.append(f"Protocol {protocol!r}\n" + view.T.to_string())
    return "Model comparison\n" + "\n\n".join(blocks)
