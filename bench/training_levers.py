"""Seconds per training step of a registered model under each speed lever, one lever per fresh
process, on the same run of the bench: the arithmetic side of the recipe (issue "Fast to a trusted
model"). Accuracy is not measured here: see bench/accuracy.py and docs/models.md.

    .venv/bin/python bench/training_levers.py
    .venv/bin/python bench/training_levers.py --model efficientnet_lite1 --steps 12 --output docs/training_levers.json

Run it on an otherwise idle machine: levers are compared by wall time. Each lever trains the model as
the Trainer does (augmentation layers in front, Adam, batch 32,
sparse cross-entropy) on random 0-1 images of the model's input size held in memory, so only the
step itself is timed: no decoding, no input pipeline. The first epoch (tracing, first steps) is
timed apart; the figure is the median step of the second. A lever is a set of Trainer settings:
  precision     float32 or mixed_bfloat16 (bfloat16 math, float32 weights)
  frozen_blocks the stem and the first N blocks of an EfficientNet-Lite kept as they are (their
                BatchNorm in inference mode): no gradient below them
  jit_compile   the training step compiled by XLA
  op_determinism  TensorFlow's op determinism, which the Trainer enables for reproducible weights
  inter_op_threads  TensorFlow's inter-op thread pool (default: one per core)
  image_size    the same network and weights fed smaller images (fewer multiply-adds per step)
  autograph     Keras' own training step, traced with AutoGraph, instead of the Trainer's plain
                trace (changes the first steps' time, not the step)
The CPU's bfloat16 flags are printed: without avx512_bf16 or amx_bf16 bfloat16 is emulated.
"""
import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path


BASE = {"precision": "float32", "frozen_blocks": 0}
LEVERS = {
    "float32 (the default)": BASE,
    "mixed_bfloat16": {**BASE, "precision": "mixed_bfloat16"},
    "stem + 3 blocks frozen": {**BASE, "frozen_blocks": 3},
    "stem + 5 blocks frozen": {**BASE, "frozen_blocks": 5},
    "stem + 8 blocks frozen": {**BASE, "frozen_blocks": 8},
    "XLA (jit_compile)": {**BASE, "jit_compile": True},
    # The Trainer enables op determinism (bit-for-bit reproducible training, modules/trainer.train).
    "op determinism": {**BASE, "op_determinism": True},
    "op determinism, stem + 7 blocks frozen": {**BASE, "frozen_blocks": 7, "op_determinism": True},
    "stem + 7 blocks frozen": {**BASE, "frozen_blocks": 7},
    "stem + 11 blocks frozen": {**BASE, "frozen_blocks": 11},
    "stem + 15 blocks frozen": {**BASE, "frozen_blocks": 15},
    "stem + 7 blocks frozen, 208 px": {**BASE, "frozen_blocks": 7, "image_size": 208},
    "stem + 7 blocks frozen, batch 64": {**BASE, "frozen_blocks": 7, "batch_size": 64},
    # The Trainer traces its steps without AutoGraph (modules/trainer.trace_without_autograph).
    "stem + 7 blocks frozen, op determinism, Keras' own AutoGraph steps":
        {**BASE, "frozen_blocks": 7, "op_determinism": True, "autograph": True},
    "one inter-op thread": {**BASE, "inter_op_threads": 1},
    "208 px input": {**BASE, "image_size": 208},
    "176 px input": {**BASE, "image_size": 176},
}
TRAINING_FIELDS = ("precision", "frozen_blocks")


def measure(model_name: str, lever: dict, steps: int, batch_size: int) -> dict:
    batch_size = lever.get("batch_size", batch_size)
    """One lever, in this process: seconds of the first epoch and of each later step."""
    import numpy as np
    import dataclasses
    import tensorflow as tf
    from modules import registry, settings, trainer

    if lever.get("op_determinism"):
        tf.config.experimental.enable_op_determinism()
    if "inter_op_threads" in lever:
        tf.config.threading.set_inter_op_parallelism_threads(lever["inter_op_threads"])
    if "image_size" in lever:  # the same network and weights at another input size
        registry.MODELS[model_name] = dataclasses.replace(registry.get_spec(model_name), image_size=lever["image_size"])
    training = settings.Training(model_name=model_name, batch_size=batch_size).replaced(
        augment=True, **{k: lever[k] for k in TRAINING_FIELDS}).resolved()
    tf.keras.utils.set_random_seed(training.seed)
    model, _ = trainer.compiled_model(training, num_classes=10)
    if lever.get("autograph"):  # Keras' own step functions, traced with AutoGraph
        model.make_train_function(force=True)
    if lever.get("jit_compile"):
        model.compile(optimizer=model.optimizer, loss=model.loss, metrics=["accuracy"], jit_compile=True)
    rng = np.random.default_rng(0)
    size = registry.get_spec(model_name).image_size
    images = rng.random((batch_size * 4, size, size, 3), np.float32)
    labels = rng.integers(0, 10, batch_size * 4)
    data = tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size).repeat()

    class Timer(tf.keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.started = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.steps.append(time.perf_counter() - self.started)

    timer = Timer()
    timer.steps = []
    started = time.perf_counter()
    model.fit(data, epochs=1, steps_per_epoch=2, verbose=0, callbacks=[timer])
    first = time.perf_counter() - started
    timer.steps = []
    model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[timer])
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    return {"first_two_steps_s": round(first, 1), "step_s_median": round(statistics.median(timer.steps), 3),
            "image_ms_median": round(1000 * statistics.median(timer.steps) / batch_size, 1),
            "step_s_min": round(min(timer.steps), 3), "trainable_parameters": trainable}


def cpu_flags() -> list:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    return sorted({flag for flag in ("avx512_bf16", "amx_bf16", "amx_tile", "avx512f") if f" {flag}" in text})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="efficientnet_lite1")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per lever")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lever", action="append", choices=sorted(LEVERS), help="default: every lever")
    parser.add_argument("--output", type=Path, help="also write the results as JSON here")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure this lever, print JSON
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.model, LEVERS[args.one], args.steps, args.batch_size)))
        return 0
    rows = []
    print(f"cpu flags: {', '.join(cpu_flags()) or 'none of avx512f, avx512_bf16, amx'}; model {args.model}, "
          f"batch {args.batch_size}", flush=True)
    for name in args.lever or list(LEVERS):
        out = subprocess.run([sys.executable, __file__, "--model", args.model, "--steps", str(args.steps),
                              "--batch-size", str(args.batch_size), "--one", name], capture_output=True, text=True)
        if out.returncode:  # a lever that cannot run (XLA cannot compile the augmentation's image warp)
            error = [line.strip() for line in out.stderr.splitlines() if line.strip()]
            reason = next((line for line in reversed(error) if "conversion failed" in line or "Error" in line),
                          error[-1] if error else "failed")
            print(json.dumps({"lever": name, "failed": reason[:300]}), flush=True)
            continue
        row = {"lever": name, **LEVERS[name], **json.loads(out.stdout.strip().splitlines()[-1])}
        rows.append(row)
        print(json.dumps(row), flush=True)
    base = rows[0]["step_s_median"]
    print("\n| lever | step s (median) | vs first row | trainable parameters | first two steps s |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['lever']} | {row['step_s_median']:.3f} | {base / row['step_s_median']:.2f}x | "
              f"{row['trainable_parameters']:,} | {row['first_two_steps_s']} |")
    if args.output:
        args.output.write_text(json.dumps({"cpu_flags": cpu_flags(), "model": args.model, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
