"""Trains every registered model on the same data, each through the whole pipeline (its own
pipeline root, nothing cached), and tabulates what its Evaluator measured: validation accuracy,
balanced accuracy (the mean of the per-class recalls: accuracy if the classes were equally
common), macro F1, per-class recall, and the Trainer's wall time and epochs.

    .venv/bin/python bench/accuracy.py --data-root ../shared/datasets/clothing-dataset-small

A row is a model name, optionally with `image-pipeline run` flags after a colon, e.g.
`--row "efficientnet_lite0:--no-augment"`. The default rows train the notebook's CNNs and the
from-scratch network in bfloat16 (twice as fast on CPUs with bfloat16 units, bench/training_speed.py)
and the EfficientNet-Lite models in float32, efficientnet_lite1 exactly as a default full-data run
does. Writes OUTPUT/accuracy.md, OUTPUT/accuracy.json and OUTPUT/per_class_recall.png; each run's
log and report stay under OUTPUT/runs.
"""
import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import common
from pipeline import configs

REPO = Path(__file__).resolve().parents[1]

BFLOAT16 = "--precision=mixed_bfloat16"
DEFAULT_ROWS = ["efficientnet_lite1", "efficientnet_lite0",
                f"arch_1:{BFLOAT16}", f"arch_2:{BFLOAT16}", f"scratch_cnn:{BFLOAT16}"]


def row_name(row: str) -> str:
    model, _, flags = row.partition(":")
    return f"{model} {flags}".strip()


def run_row(row: str, data_root: Path, output: Path, index: int) -> dict:
    """One pipeline run in a process of its own (a fresh TensorFlow), then its Evaluator's numbers."""
    from components.run_report import evaluation_results, run_summary
    model, _, flags = row.partition(":")
    pipeline_name = f"accuracy-{index}-{model.replace('_', '-')}"
    log = output / "runs" / f"{pipeline_name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(REPO / "local_runner.py"), "--data-root", str(data_root), "--model", model,
               "--output-root", str(output / "runs"), "--pipeline-name", pipeline_name, "--no-cache",
               *shlex.split(flags)]
    started = time.time()
    with log.open("w") as log_file:
        subprocess.run(command, stdout=log_file, stderr=subprocess.STDOUT, check=True, cwd=REPO)
    wall = time.time() - started
    metadata = output / "runs" / "pipelines" / pipeline_name / "metadata.sqlite"
    run = run_summary.find_run(str(metadata), pipeline_name)
    summary = run_summary.summarize(run)
    evaluation = evaluation_results.of_run(run)
    history = json.loads((Path(run.output("Trainer", "model_run").uri) / "history.json").read_text())
    recall = {name: metrics["recall"] for name, metrics in evaluation.per_class.items()}
    return {
        "row": row_name(row), "model": model, "image_size": _image_size(model),
        "validation_accuracy": evaluation.overall["sparse_categorical_accuracy"],
        "balanced_accuracy": sum(recall.values()) / len(recall),
        "macro_f1": evaluation.overall[evaluation_results.MACRO_F1],
        "recall": recall,
        "trainer_seconds": next(c.seconds for c in summary.components if c.component_id == "Trainer"),
        "run_seconds": wall,
        "epochs": len(history["history"].get("loss", [])),
        "config": history["config"],
        "blessed": summary.blessed,
        "report": summary.report,
    }


def _image_size(model: str) -> int:
    from modules import registry
    return registry.get_spec(model).image_size


def markdown(results: list, data_root: Path) -> str:
    classes = list(results[0]["recall"])
    header = ["model (flags)", "input px", "val acc", "balanced acc", "macro F1", "weakest class",
              "Trainer min", "run min", "epochs"]
    lines = [f"Data: `{data_root}`; TFMA on the validation split; 2 CPU cores.", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in results:
        weakest = min(r["recall"], key=r["recall"].get)
        lines.append(f"| {r['row']} | {r['image_size']} | {r['validation_accuracy']:.4f} "
                     f"| {r['balanced_accuracy']:.4f} "
                     f"| {r['macro_f1']:.4f} | {weakest} {r['recall'][weakest]:.3f} | {r['trainer_seconds'] / 60:.1f} "
                     f"| {r['run_seconds'] / 60:.1f} | {r['epochs']} |")
    lines += ["", "Recall per class:", "", "| model (flags) | " + " | ".join(classes) + " |",
              "|" + "---|" * (len(classes) + 1)]
    lines += ["| " + r["row"] + " | " + " | ".join(f"{r['recall'][c]:.3f}" for c in classes) + " |" for r in results]
    return "\n".join(lines) + "\n"


def plot_recall(results: list, path: Path) -> None:
    classes = list(results[0]["recall"])
    common.plot_recall_per_class(
        path, classes, [(f"{r['row']} (acc {r['validation_accuracy']:.3f})", [r["recall"][c] for c in classes])
                        for r in results],
        "Per-class recall of each model on the validation split (bench/accuracy.py)", "recall (validation)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, required=True)
    parser.add_argument("--row", action="append", help=f"repeatable (default: {' '.join(DEFAULT_ROWS)})")
    parser.add_argument("--output", type=Path, default=configs.OUTPUT_ROOT / "bench" / "accuracy")
    args = parser.parse_args()
    rows = args.row or DEFAULT_ROWS
    args.output.mkdir(parents=True, exist_ok=True)
    results = []
    for index, row in enumerate(rows):
        print(f"[{index + 1}/{len(rows)}] {row_name(row)}: training (log: {args.output}/runs/) ...", flush=True)
        results.append(run_row(row, args.data_root.resolve(), args.output, index))
        r = results[-1]
        print(f"[{index + 1}/{len(rows)}] {r['row']}: accuracy {r['validation_accuracy']:.4f}, macro F1 "
              f"{r['macro_f1']:.4f}, {r['epochs']} epochs, Trainer {r['trainer_seconds']:.0f} s", flush=True)
        # Rewritten after every row, so an interrupted benchmark keeps what it measured.
        (args.output / "accuracy.json").write_text(json.dumps(results, indent=2))
        (args.output / "accuracy.md").write_text(markdown(results, args.data_root))
        plot_recall(results, args.output / "per_class_recall.png")
    print((args.output / "accuracy.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
