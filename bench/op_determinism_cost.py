"""Seconds per epoch of the notebook's arch_2 with and without TensorFlow op determinism (which the
Trainer enables), each in a fresh process, on random 128 px images from memory.

    .venv/bin/python bench/op_determinism_cost.py [--images 1024] [--epochs 3]
"""
import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, sys, time
sys.path.insert(0, {root!r})
from pipeline import configs
import numpy as np, tensorflow as tf
from modules import model as models
tf.keras.utils.set_random_seed(111)
if {deterministic}:
    tf.config.experimental.enable_op_determinism()
images = np.random.default_rng(0).random(({images}, 128, 128, 3), dtype=np.float32)
labels = np.arange({images}) % 10
model = models.build("arch_2", 10)
model.compile(tf.keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", ["accuracy"])
seconds = []
for _ in range({epochs}):
    started = time.time()
    model.fit(images, labels, batch_size=32, epochs=1, verbose=0)
    seconds.append(time.time() - started)
print(json.dumps(seconds))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1024)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    result = {}
    for deterministic in (False, True):
        code = CHILD.format(root=str(REPO_ROOT), deterministic=deterministic, images=args.images, epochs=args.epochs)
        output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        seconds = json.loads(output.strip().splitlines()[-1])
        # The first epoch includes tracing; the others are the steady state.
        result["op_determinism" if deterministic else "default"] = {
            "first_epoch_s": round(seconds[0], 2), "later_epochs_s": [round(s, 2) for s in seconds[1:]]}
    print(json.dumps({"images": args.images, **result}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
