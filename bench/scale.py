"""How the whole pipeline scales with the data: N-times-larger copies of a dataset (every image
re-encoded N times with a small random crop, brightness change and flip), N = 1, 4, 16.

    .venv/bin/python bench/scale.py --data-root ../shared/datasets/clothing-dataset-small \
        [--factors 1 4 16] [--model arch_1] [--results bench-results/scale.json]

Each N runs the whole pipeline (`image-pipeline run`'s: ingestion through the Pusher and the
report, the Trainer for one epoch, no gates to fail) under LocalDagRunner in a process of its own.
A thread samples that process's resident memory every SAMPLE_SECONDS; a step's peak is the
highest sample while ML Metadata records it running, so it includes what earlier steps left
allocated. Each N's row is written to --results as it finishes; a Markdown table at the end:
seconds, seconds per 1,000 images and peak resident memory of every step.
"""
import argparse
import json
import logging
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import common

SAMPLE_SECONDS = 0.25


def perturbed_copies(job) -> int:
    """Writes `copies` perturbed re-encodings of one image; returns how many."""
    from PIL import Image, ImageEnhance, ImageOps
    source, target_dir, copies, seed = job
    rng = random.Random(seed)
    original = Image.open(source).convert("RGB")
    width, height = original.size
    for copy in range(copies):
        scale = rng.uniform(0.9, 1.0)
        left, top = rng.uniform(0, 1 - scale) * width, rng.uniform(0, 1 - scale) * height
        image = original.crop((int(left), int(top), int(left + scale * width), int(top + scale * height)))
        image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.9, 1.1))
        if rng.random() < 0.5:
            image = ImageOps.mirror(image)
        image.save(target_dir / f"{source.stem}-{copy}.jpg", quality=90)
    return copies


def build_copy(data_root: Path, target: Path, factor: int) -> int:
    jobs = []
    for split in ("train", "validation"):
        for class_dir in sorted((data_root / split).iterdir()):
            (target / split / class_dir.name).mkdir(parents=True)
            jobs += [(path, target / split / class_dir.name, factor, zlib.crc32(f"{path.name}:{factor}".encode()))
                     for path in sorted(class_dir.glob("*.jpg"))]
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        return sum(pool.map(perturbed_copies, jobs, chunksize=16))


class MemorySampler(threading.Thread):
    """(time, resident bytes) of this process every SAMPLE_SECONDS."""

    def __init__(self):
        super().__init__(daemon=True)
        self.samples: list = []

    def run(self):
        import psutil
        process = psutil.Process()
        while True:
            self.samples.append((time.time(), process.memory_info().rss))
            time.sleep(SAMPLE_SECONDS)

    def peak_mb(self, start: float, end: float) -> float:
        inside = [rss for at, rss in self.samples if start <= at <= end + SAMPLE_SECONDS]
        return max(inside, default=0) / 2**20


class EpochSeconds(logging.Handler):
    """The seconds of the Trainer's epoch, from its own line (modules/trainer.Progress): the step's
    seconds also hold fixed costs (building, tracing, exporting the model)."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.seconds = None

    def emit(self, record):
        found = re.match(r"epoch 1/1: .*\((\d+) s\)$", record.getMessage())
        if found:
            self.seconds = float(found.group(1))


def run_pipeline(data_root: str, output_root: str, model: str) -> dict:
    """The child process: the whole pipeline, one epoch of `model`; seconds and peak MB per step."""
    sampler = MemorySampler()
    sampler.start()
    epoch = EpochSeconds()
    logging.getLogger().addHandler(epoch)
    logging.getLogger().setLevel(logging.INFO)
    summary = common.run(common.gates_off_run(data_root, output_root, "scale", model))
    steps = {c.component_id: {"seconds": round(c.seconds, 1),
                              "peak_MB": round(sampler.peak_mb(c.started, c.started + c.seconds))}
             for c in summary.components}
    return {"steps": steps, "train_epoch_s": epoch.seconds}


def run_measured(command: list, log: Path) -> tuple:
    """(stdout, peak resident MB) of a child process, its stderr in `log`."""
    with open(log, "w") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True)
        stdout = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise RuntimeError(f"the pipeline failed with status {status}; its log's end:\n{log.read_text()[-3000:]}")
    return stdout, usage.ru_maxrss / 1024


def table(rows: list) -> str:
    steps = list(rows[0]["steps"])
    lines = ["| step | " + " | ".join(f"N={r['N']} ({r['images']:,} images): s, s per 1,000, peak MB"
                                      for r in rows) + " |",
             "|---|" + "---|" * len(rows)]
    for step in steps:
        cells = [f"{r['steps'][step]['seconds']:.1f}, {1000 * r['steps'][step]['seconds'] / r['images']:.2f}, "
                 f"{r['steps'][step]['peak_MB']:,}" for r in rows]
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    lines.append("| Trainer's epoch alone (its own line): s, s per 1,000 | " + " | ".join(
        f"{r['train_epoch_s']:.0f}, {1000 * r['train_epoch_s'] / r['images']:.2f}" if r.get("train_epoch_s") else "–"
        for r in rows) + " |")
    lines.append("| whole process (peak MB) | " + " | ".join(f"{r['process_peak_MB']:,.0f}" for r in rows) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, required=True)
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--model", default="arch_1", help="the model trained for one epoch (default: %(default)s)")
    parser.add_argument("--results", type=Path, help="JSON file that each finished row is written to")
    parser.add_argument("--child", nargs=2, metavar=("DATA", "OUTPUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_pipeline(*args.child, args.model)))
        return 0

    rows = []
    for factor in args.factors:
        with tempfile.TemporaryDirectory() as scratch:
            scratch = Path(scratch)
            started = time.time()
            images = build_copy(args.data_root.resolve(), scratch / "data", factor)
            print(f"N={factor}: {images} images written in {time.time() - started:.0f} s", flush=True)
            stdout, process_mb = run_measured([sys.executable, __file__, "--data-root", str(args.data_root),
                                               "--model", args.model, "--child", str(scratch / "data"),
                                               str(scratch / "outputs")], scratch / "pipeline.log")
        rows.append({"N": factor, "images": images, "model": args.model, **json.loads(stdout.strip().splitlines()[-1]),
                     "process_peak_MB": round(process_mb)})
        print(json.dumps(rows[-1]), flush=True)
        if args.results:
            args.results.parent.mkdir(parents=True, exist_ok=True)
            args.results.write_text(json.dumps(rows, indent=2) + "\n")
    print("\n" + table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
