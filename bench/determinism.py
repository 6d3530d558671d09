"""Runs the same pipeline twice from scratch (separate output roots, same seed) and compares the
evaluations and the trained weights.

    .venv/bin/python bench/determinism.py                       # the bundled sample, its smoke profile
    .venv/bin/python bench/determinism.py --data-root DIR --epochs 10

Prints one line per metric that differs (none when the runs agree) and a JSON summary.
"""
import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


import common
from pipeline import configs
from modules import settings


def evaluation_metrics(pipeline_root: Path) -> dict:
    import tensorflow_model_analysis as tfma
    evaluation = max((pipeline_root / "Evaluator" / "evaluation").iterdir(), key=lambda p: int(p.name))
    result = tfma.load_eval_result(str(evaluation))
    return {f"{slice_key or 'overall'} {name}": value.get("doubleValue")
            for slice_key, metrics in result.slicing_metrics for name, value in metrics[""][""].items()}


def trained_state(pipeline_root: Path, pushed_dir: str) -> dict:
    """The Trainer's per-epoch history and every variable of the pushed model."""
    import tensorflow as tf
    history = json.loads(next((pipeline_root / "Trainer" / "model_run").glob("*/history.json")).read_text())["history"]
    reader = tf.train.load_checkpoint(str(Path(pushed_dir) / "variables" / "variables"))
    variables = {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
                 if not name.startswith("_CHECKPOINTABLE_OBJECT_GRAPH")}
    return {"history": history, "variables": variables}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=configs.SAMPLE_DATA_ROOT)
    parser.add_argument("--epochs", type=int, default=configs.SAMPLE_SETTINGS.training.recipe.epochs)
    parser.add_argument("--model", default=settings.Training().model_name)
    args = parser.parse_args()

    runs = []
    with tempfile.TemporaryDirectory() as scratch:
        for attempt in ("a", "b"):
            started = time.time()
            run = common.gates_off_run(args.data_root, Path(scratch) / attempt, "determinism", args.model, args.epochs)
            summary = common.run(run)
            runs.append({"seconds": round(time.time() - started, 1),
                         "metrics": evaluation_metrics(run.pipeline_root),
                         **trained_state(run.pipeline_root, summary.pushed_destination)})

    first, second = (run["metrics"] for run in runs)
    differing = {key: (first[key], second.get(key)) for key in first if first[key] != second.get(key)}
    for key, (a, b) in differing.items():
        print(f"differs: {key}: {a} vs {b}")
    print(json.dumps({
        "data_root": str(args.data_root), "model": args.model, "epochs": args.epochs,
        "seconds": [run["seconds"] for run in runs],
        "metrics_compared": len(first), "metrics_differing": len(differing),
        "max_abs_difference": max((abs(a - b) for a, b in differing.values() if None not in (a, b)), default=0.0),
        "same_history": runs[0]["history"] == runs[1]["history"],
        "variables_compared": len(runs[0]["variables"]),
        "variables_differing": sorted(name for name, value in runs[0]["variables"].items()
                                      if not np.array_equal(value, runs[1]["variables"].get(name))),
        "overall_accuracy": [run["metrics"].get("overall sparse_categorical_accuracy") for run in runs],
    }, indent=2))
    return 0 if not differing and runs[0]["history"] == runs[1]["history"] else 1


if __name__ == "__main__":
    sys.exit(main())
