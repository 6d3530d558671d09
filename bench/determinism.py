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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline import configs  # pylint: disable=wrong-import-position  # first: picks the Keras flavour


def evaluation_metrics(pipeline_root: Path) -> dict:
    import tensorflow_model_analysis as tfma  # pylint: disable=g-import-not-at-top
    evaluation = max((pipeline_root / "Evaluator" / "evaluation").iterdir(), key=lambda p: int(p.name))
    result = tfma.load_eval_result(str(evaluation))
    return {f"{slice_key or 'overall'} {name}": value.get("doubleValue")
            for slice_key, metrics in result.slicing_metrics for name, value in metrics[""][""].items()}


def checkpoint_hash(pushed_dir: str) -> int:
    from tensorflow.core.protobuf import fingerprint_pb2  # pylint: disable=g-import-not-at-top
    return fingerprint_pb2.FingerprintDef.FromString((Path(pushed_dir) / "fingerprint.pb").read_bytes()).checkpoint_hash


def main() -> int:
    import local_runner  # pylint: disable=g-import-not-at-top
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=configs.SAMPLE_DATA_ROOT)
    parser.add_argument("--epochs", type=int, default=configs.SAMPLE_RUN_OVERRIDES["epochs"])
    parser.add_argument("--model", default=configs.MODEL_NAME)
    args = parser.parse_args()

    runs = []
    with tempfile.TemporaryDirectory() as scratch:
        for attempt in ("a", "b"):
            started = time.time()
            settings = local_runner.LocalRunSettings(
                data_root=args.data_root, output_root=Path(scratch) / attempt, model_name=args.model,
                epochs=args.epochs, accuracy_floor=0.0, pipeline_name="determinism")
            summary = local_runner.run(settings)
            runs.append({"seconds": round(time.time() - started, 1),
                         "metrics": evaluation_metrics(settings.pipeline_root),
                         "checkpoint_hash": checkpoint_hash(summary.pushed_destination)})

    first, second = (run["metrics"] for run in runs)
    differing = {key: (first[key], second.get(key)) for key in first if first[key] != second.get(key)}
    for key, (a, b) in differing.items():
        print(f"differs: {key}: {a} vs {b}")
    print(json.dumps({
        "data_root": str(args.data_root), "model": args.model, "epochs": args.epochs,
        "seconds": [run["seconds"] for run in runs],
        "metrics_compared": len(first), "metrics_differing": len(differing),
        "max_abs_difference": max((abs(a - b) for a, b in differing.values() if None not in (a, b)), default=0.0),
        "same_weights": runs[0]["checkpoint_hash"] == runs[1]["checkpoint_hash"],
        "overall_accuracy": [run["metrics"].get("overall sparse_categorical_accuracy") for run in runs],
    }, indent=2))
    return 0 if not differing else 1


if __name__ == "__main__":
    sys.exit(main())
