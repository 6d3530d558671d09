"""Resident memory of the Trainer's input alone, pass after pass, under allocator settings: decoded
128 px images from a tf.data file cache, through the Trainer's shuffle buffer, in batches of 32.

    .venv/bin/python bench/heap_growth.py [--images 27000] [--passes 4] \
        [--variant default] [--variant TF_CPU_ALLOCATOR_USE_BFC=false,TF_ENABLE_ONEDNN_OPTS=0] [--variant ...]

Each variant (environment variables set before Python starts; "default" sets none, so the child
has the project's own setting: TensorFlow's CPU pool, modules/__init__.py) reads the same
cache in a process of its own, its resident memory sampled as bench/scale.py samples it. Prints a JSON row
per variant: the CPU allocator it had, the resident MB at the end of each pass, the peak, the peak
of the CPU pool when it has one (null without), and the seconds the passes took.
The cache is written once, under a temporary folder removed at the end. docs/benchmarks.md,
"Scale", has the figures.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import scale

SIZE, BATCH = 128, 32
GLIBC_MALLOC = "TF_CPU_ALLOCATOR_USE_BFC=false,TF_ENABLE_ONEDNN_OPTS=0"  # cpu_allocator() says why both


def cpu_allocator() -> str:
    """Which allocator TensorFlow gave CPU tensors in this process. On CPUs with AVX512_VNNI,
    AVX512_BF16 or AMX, TensorFlow turns oneDNN on by default, and oneDNN's allocator pools whatever
    TF_CPU_ALLOCATOR_USE_BFC says: glibc's malloc takes TF_ENABLE_ONEDNN_OPTS=0 as well there."""
    from tensorflow.python.util import _pywrap_util_port  # no public API says whether oneDNN is on

    from modules import CPU_ALLOCATOR
    if _pywrap_util_port.IsMklEnabled():
        return "oneDNN"
    return "BFC" if os.environ.get(CPU_ALLOCATOR, "").lower() in ("1", "true") else "malloc"


def read_passes(cache: str, images: int, passes: int) -> dict:
    """The child: fills the cache if empty, then reads it `passes` times; resident MB per pass."""
    import psutil
    import tensorflow as tf

    from modules import trainer
    process, sampler = psutil.Process(), scale.MemorySampler()
    sampler.start()
    dataset = tf.data.Dataset.range(images).map(
        lambda i: tf.random.stateless_uniform([SIZE, SIZE, 3], tf.stack([i, 1])),
        num_parallel_calls=tf.data.AUTOTUNE).cache(cache)
    if not Path(cache + ".index").exists():
        for _ in dataset.batch(64):
            pass
    shuffled = dataset.shuffle(trainer.SHUFFLE_BUFFER, seed=1, reshuffle_each_iteration=True).batch(BATCH)
    started, after_pass = time.perf_counter(), []
    for _ in range(passes):
        for _ in shuffled.prefetch(tf.data.AUTOTUNE):
            pass
        after_pass.append(round(process.memory_info().rss / 2**20))
    try:  # statistics exist only for a pool (TensorFlow's BFC allocator, or oneDNN's)
        pool_peak = round(tf.config.experimental.get_memory_info("CPU:0")["peak"] / 2**20)
    except ValueError:
        pool_peak = None
    return {"cpu_allocator": cpu_allocator(),
            "MB_after_each_pass": after_pass, "peak_MB": round(max([sampler.peak_mb(0, time.time()), *after_pass])),
            "tensorflow_pool_peak_MB": pool_peak, "seconds": round(time.perf_counter() - started, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=27000)
    parser.add_argument("--passes", type=int, default=4)
    parser.add_argument("--variant", action="append", help='"default", or NAME=VALUE[,NAME=VALUE]')
    parser.add_argument("--child", help=argparse.SUPPRESS)  # the cache's path prefix
    args = parser.parse_args()
    if args.child:
        print(json.dumps(read_passes(args.child, args.images, args.passes)))
        return 0
    with tempfile.TemporaryDirectory(prefix="heap-growth-") as scratch:
        for variant in args.variant or ["default", GLIBC_MALLOC]:
            settings = {} if variant == "default" else dict(pair.split("=", 1) for pair in variant.split(","))
            result = subprocess.run([sys.executable, __file__, "--images", str(args.images), "--passes",
                                     str(args.passes), "--child", os.path.join(scratch, "cache")],
                                    capture_output=True, text=True, env={**os.environ, **settings})
            if result.returncode != 0:
                raise RuntimeError(f"variant {variant} failed: {result.stderr[-2000:]}")
            print(json.dumps({"variant": variant, **json.loads(result.stdout.strip().splitlines()[-1])}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
