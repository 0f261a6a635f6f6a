"""The figure of one model's scores per population cell of an imported survey, with its baselines."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from utils.analysis.figures.style import COLORS, figure, save, styled
from utils.analysis.tables import Output


@styled
def cell_scores_figure(df: pd.DataFrame, out: Output, stem: str, heading: str) -> list[Path]:
    """Bars of `score` per `cell` with its interval; ticks: the uniform answer (grey), the ceiling (black)."""
    df = df.reset_index(drop=True)
    y = np.arange(len(df))
    fig, ax = figure((6.5, 1.2 + 0.28 * len(df)))
    err = np.vstack([df.score - df.ci_low, df.ci_high - df.score])
    ax.barh(y, df.score, xerr=np.nan_to_num(err), color=COLORS[0], label="model", capsize=2)
    ax.scatter(df.uniform, y, marker="|", s=200, color="0.55", label="uniform answer", zorder=3)
    if df.ceiling.notna().any():
        ax.scatter(df.ceiling, y, marker="|", s=200, color="black", label="human split-half", zorder=3)
    ax.set_yticks(y, df.cell)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("score (mean over items)")
    ax.set_title(heading)
    ax.legend(loc="lower right", fontsize=7)
    return save(fig, out, stem)
