"""How ingestion, StatisticsGen and Transform scale with the data: N-times-larger copies of a dataset
(every image re-encoded N times with a small random crop, brightness change and flip), N = 1, 4, 16.

    .venv/bin/python bench/scale.py --data-root ../shared/datasets/clothing-dataset-small [--factors 1 4 16]

The data components alone (ImageExampleGen, StatisticsGen, ImportSchemaGen, ExampleValidator,
Transform) run as one pipeline under LocalDagRunner in a process of their own, whose peak resident
memory (getrusage) is the figure reported.
Prints a Markdown table: images, seconds per step, seconds per 1000 images, peak memory.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

DATA_STEPS = """
import json, sys
from components.image_example_gen import ingestion
from components.run_report import run_summary
from pipeline import configs, pipeline
from tfx import v1 as tfx
data_root, root = sys.argv[1], sys.argv[2]
data = pipeline.make_data_components(data_root, ingestion.scan(data_root).splits, str(configs.SCHEMA_DIR), 128)
tfx.orchestration.LocalDagRunner().run(tfx.dsl.Pipeline(
    pipeline_name="scale", pipeline_root=root, components=list(data), enable_cache=False,
    beam_pipeline_args=configs.DEFAULT_BEAM_PIPELINE_ARGS,
    metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(root + "/metadata.sqlite")))
summary = run_summary.latest_run(root + "/metadata.sqlite", "scale")
print(json.dumps({c.component_id: c.seconds for c in summary.components}))
"""


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


def run_measured(command: list) -> tuple:
    """(stdout, seconds, peak resident MB) of a child process."""
    started = time.time()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO_ROOT)
    stdout = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise RuntimeError(f"{command[:3]} failed with status {status}")
    return stdout, time.time() - started, usage.ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, required=True)
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 4, 16])
    args = parser.parse_args()

    rows = []
    for factor in args.factors:
        with tempfile.TemporaryDirectory() as scratch:
            scratch = Path(scratch)
            started = time.time()
            images = build_copy(args.data_root.resolve(), scratch / "data", factor)
            print(f"N={factor}: {images} images written in {time.time() - started:.0f} s", flush=True)
            stdout, _, data_mb = run_measured(
                [sys.executable, "-c", DATA_STEPS, str(scratch / "data"), str(scratch / "pipeline")])
            seconds = json.loads(stdout.strip().splitlines()[-1])
            row = {"N": factor, "images": images, "ingestion_s": seconds["ImageExampleGen"],
                   "StatisticsGen_s": seconds["StatisticsGen"],
                   "Transform_s": seconds["Transform"], "data_steps_peak_MB": data_mb}
            print(json.dumps(row), flush=True)
            rows.append(row)

    print("\n| N | images | ingestion s | StatisticsGen s | Transform s | "
          "s per 1000 images (ingestion + StatisticsGen) | peak MB, data steps with ingestion |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        per_thousand = 1000 * (r["ingestion_s"] + r["StatisticsGen_s"]) / r["images"]
        print(f"| {r['N']} | {r['images']} | {r['ingestion_s']:.1f} | "
              f"{r['StatisticsGen_s']:.1f} | {r['Transform_s']:.1f} | {per_thousand:.2f} | "
              f"{r['data_steps_peak_MB']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
