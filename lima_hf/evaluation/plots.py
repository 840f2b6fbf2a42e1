"""Drawing helpers the protocols' plots share (matplotlib's Agg backend: no display needed), and the
checkpoint-selection plot. Each protocol's own plot lives in its module."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

COLORS = {
    "win": "#4c9a2a",
    "tie": "#b0b0b0",
    "loss": "#c0392b",
    "Fail": "#c0392b",
    "Pass": "#f1c40f",
    "Excellent": "#4c9a2a",
}


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: str | os.PathLike) -> None:
    """Write ``fig`` as a PNG atomically."""
    from lima_hf.io import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=150, bbox_inches="tight")


def stacked_bars(ax, summaries: Mapping[str, dict], labels: Sequence[str], names: Sequence[str]) -> None:
    """One horizontal bar per row of ``summaries``, stacked by the shares in its ``rates``."""
    rows = list(summaries)
    for y, row in enumerate(rows):
        left = 0.0
        for label, name in zip(labels, names):
            share = summaries[row]["rates"].get(label, math.nan)
            share = 0.0 if share is None or math.isnan(share) else share
            ax.barh(y, share * 100, left=left, color=COLORS[label], edgecolor="white", label=name if y == 0 else None)
            if share >= 0.06:
                ax.text(left + share * 50, y, f"{share:.0%}", ha="center", va="center", fontsize=9)
            left += share * 100
    ax.set_yticks(range(len(rows)), rows)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of prompts")
    ax.legend(
        ncol=len(labels), loc="upper center", bbox_to_anchor=(0.5, -0.25 if len(rows) < 3 else -0.12), frameon=False
    )


def plot_stacked(summaries: Mapping[str, dict], labels, names, path, title: str) -> None:
    """A figure of :func:`stacked_bars`."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 0.6 * len(summaries) + 1.4))
    stacked_bars(ax, summaries, labels, names)
    ax.set_title(title)
    save(fig, path)
    plt.close(fig)


def errorbars(xs, summaries, ax):
    """Means with their 95% intervals (``mean``, ``interval_95``) at ``xs``; returns the means."""
    means = [s["mean"] for s in summaries]
    low = [s["mean"] - s["interval_95"][0] if not math.isnan(s["interval_95"][0]) else 0 for s in summaries]
    high = [s["interval_95"][1] - s["mean"] if not math.isnan(s["interval_95"][1]) else 0 for s in summaries]
    ax.errorbar(xs, means, yerr=[low, high], fmt="o", capsize=4, color="#2c3e50")
    return means


def plot_checkpoints(
    epochs: list[float], summaries: list[dict], chosen: float | None, path: str | os.PathLike,
    ylabel: str = "dev helpfulness (1-6)", ylim: tuple[float, float] = (1, 6),
) -> None:
    """The dev-set score (``mean``, ``interval_95``) per checkpoint epoch, the chosen one highlighted."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    means = errorbars(epochs, summaries, ax)
    ax.plot(epochs, means, color="#2c3e50", alpha=0.4)
    if chosen is not None:
        ax.axvline(chosen, color=COLORS["win"], linestyle="--", label=f"chosen: epoch {chosen:g}")
        ax.legend()
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_ylim(*ylim)
    ax.set_title("Checkpoint selection")
    ax.grid(alpha=0.3)
    save(fig, path)
    plt.close(fig)
