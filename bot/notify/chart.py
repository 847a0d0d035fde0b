"""The /stats chart: mail and new series per week, as a PNG. Pure (bytes out).

matplotlib is imported here, on the first chart, never at start-up: it costs
about half a second to import, which the CLI and the service do not pay
unless someone asks for /stats. The object API (Figure + the Agg canvas) is
used, not pyplot: no global state, so a chart can be drawn in a worker thread.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime


def activity_png(weeks: Sequence[tuple[datetime, int, int]], title: str) -> bytes:
    """Bars of mail per week, a line of new series per week (second axis)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import date2num
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 3.6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    days = [float(date2num(w)) for w, _, _ in weeks]
    ax.xaxis_date()
    ax.bar(days, [m for _, m, _ in weeks], width=5, color="#3498db", label="mail")
    ax.set_ylabel("mail per week")
    ax.set_title(title)
    right = ax.twinx()
    right.plot(days, [s for _, _, s in weeks], color="#e67e22", marker="o", markersize=3, label="new series")
    right.set_ylabel("new series per week")
    right.set_ylim(bottom=0)
    handles = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    ax.legend(handles, ["mail", "new series"], loc="upper left", fontsize="small")
    fig.autofmt_xdate()
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
