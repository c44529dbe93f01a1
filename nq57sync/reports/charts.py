"""Charts drawn once with matplotlib: inline SVG for HTML, PNG for Word.

matplotlib ships DejaVu Sans, which has every Vietnamese glyph, and its SVG
output draws text as paths, so the HTML needs no font and no network.
"""

from __future__ import annotations

import io
import itertools
import re
import warnings

from nq57sync.reports.content import Chart

#: One colour per series; the 766 index has six groups, so six at least (cycled beyond).
COLORS = ("#1f5fa8", "#2e9d5b", "#d9822b", "#b03a48", "#6b4fa0", "#2a9fa8", "#8a6d3b",
          "#c0579a")


def warm_up() -> None:
    """Pay matplotlib's import once, up front (the dashboard does it at start-up)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot


def _figure(chart: Chart):  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    from nq57sync import vi

    fig, ax = plt.subplots(figsize=(8, 3.8), dpi=110)
    positions = range(len(chart.categories))
    if chart.kind == "line":
        for (name, values), color in zip(chart.series, itertools.cycle(COLORS)):
            ax.plot(list(positions), values, marker="o", label=name, color=color)
    else:
        width = 0.8 / max(1, len(chart.series))
        for i, ((name, values), color) in enumerate(zip(chart.series, itertools.cycle(COLORS))):
            ax.bar([p + i * width - 0.4 + width / 2 for p in positions], values, width,
                   label=name, color=color)
    ax.set_xticks(list(positions))
    ax.set_xticklabels(chart.categories, rotation=30 if len(chart.categories) > 4 else 0,
                       ha="right" if len(chart.categories) > 4 else "center", fontsize=8)
    counts = all(float(v).is_integer() for _, values in chart.series for v in values)
    if counts:  # whole ticks for counts: never 0, 0, 1, 1, 2
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(FuncFormatter(
        lambda v, _: vi.number(v) if counts else vi.number(v, 1)))
    ax.set_title(chart.title, fontsize=11)
    if chart.y_label:
        ax.set_ylabel(chart.y_label)
    if len(chart.series) > 1:
        ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def _render(chart: Chart, fmt: str, out: io.StringIO | io.BytesIO) -> None:
    """Draw the chart into `out`. Names from sources may hold any character: a glyph the
    font lacks is drawn as a box, not logged as a warning per character."""
    import matplotlib.pyplot as plt

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph .* missing from font|Tight layout")
        fig = _figure(chart)
        fig.savefig(out, format=fmt)
        plt.close(fig)


def svg(chart: Chart) -> str:
    out = io.StringIO()
    _render(chart, "svg", out)
    text = out.getvalue()
    # Drop the XML prolog and matplotlib's RDF metadata: the chart goes inline.
    return re.sub(r"<metadata>.*?</metadata>", "", text[text.index("<svg"):], flags=re.S)


def png(chart: Chart) -> bytes:
    out = io.BytesIO()
    _render(chart, "png", out)
    return out.getvalue()
