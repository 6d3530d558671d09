"""What the benchmarks that run the whole pipeline share: a run's settings with the quality gates
off (a benchmark measures, it does not judge), and the summary of the run they made."""
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
