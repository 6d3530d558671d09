"""What the benchmarks share: for those that run the whole pipeline, a run's settings with the
quality gates off (a benchmark measures, it does not judge) and the summary of the run they made;
for those that compare models or recipes, one figure of recall per class."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence


def gates_off_run(data_root: Path, output_root: Path, pipeline_name: str, model: Optional[str] = None,
                  epochs: int = 1, beam_pipeline_args: Optional[Sequence[str]] = None, enable_cache: bool = True):
    """cli/local.LocalRunSettings for `epochs` epochs of `model` (default: the default model), with
    no accuracy or recall floor."""
    from cli import local
    from modules import settings
    training = settings.Training(**({"model_name": model} if model else {}), recipe=settings.Recipe(epochs=epochs))
    extra = {"beam_pipeline_args": list(beam_pipeline_args)} if beam_pipeline_args is not None else {}
    return local.LocalRunSettings(
        data_root=Path(data_root), output_root=Path(output_root), pipeline_name=pipeline_name,
        settings=settings.Settings(training, settings.Gates(accuracy_floor=0.0, class_recall_floor=0.0)),
        enable_cache=enable_cache, **extra)


def run(settings):
    """Runs the pipeline and returns its summary; a failed step stops the benchmark."""
    from cli import local
    summary = local.run(settings)
    if summary.failed_steps:
        raise RuntimeError(f"steps failed: {summary.failed_steps}")
    return summary


def plot_recall_per_class(png: Path, classes: Sequence[str], rows: Sequence[tuple], title: str, ylabel: str,
                          ylim: tuple = (0, 1.05), floor: Optional[float] = None) -> None:
    """Grouped bars of recall per class, a bar for each row: `rows` are (label, recall [runs,
    classes]); a row of several runs is drawn as their mean with each run as a dot. `floor`, when
    given, is drawn as a dashed line."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    width = 0.8 / len(rows)
    figure, axes = plt.subplots(figsize=(12, 4.5))
    for offset, (label, recall) in enumerate(rows):
        recall = np.atleast_2d(recall)
        x = np.arange(len(classes)) + offset * width
        axes.bar(x, recall.mean(0), width, label=label)
        if len(recall) > 1:
            axes.scatter(np.repeat(x, len(recall)), recall.T.ravel(), s=6, color="black", zorder=3)
    if floor is not None:
        axes.axhline(floor, color="red", linewidth=1, linestyle="--", label=f"floor {floor}")
    axes.set_xticks(np.arange(len(classes)) + width * (len(rows) - 1) / 2, classes)
    axes.set_ylim(*ylim)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2, frameon=False)
    figure.tight_layout()
    figure.savefig(png, dpi=100, bbox_inches="tight")
    plt.close(figure)
