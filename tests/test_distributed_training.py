"""The Trainer under MultiWorkerMirroredStrategy: the real run_fn as two worker processes on 127.0.0.1,
each a process of its own as on two machines (tests/distributed_worker.py)."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from modules import exporter, features, registry, settings
from tests import distributed_worker
from tests.conftest import REPO_ROOT, SMALL_IMAGE_SIZE, free_port, jpeg_bytes

pytestmark = pytest.mark.slow

CLASS_NAMES = ["hat", "shoes", "skirt"]
COLOURS = [(250, 0, 0), (0, 250, 0), (0, 0, 250)]
# Every wait on a worker is bounded: a hung cluster fails the test instead of the suite.
WORKER_TIMEOUT_S = 240


@pytest.fixture(scope="module")
def examples(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("examples")
    for split, count in (("train", 24), ("eval", 9)):
        (root / f"Split-{split}").mkdir()
        with tf.io.TFRecordWriter(str(root / f"Split-{split}" / "data.gz"), options="GZIP") as writer:
            for index in range(count):
                label = index % 3
                writer.write(features.make_example(jpeg_bytes(color=COLOURS[label]), label, CLASS_NAMES[label],
                                                   f"{split}/{CLASS_NAMES[label]}/{index}.jpg").SerializeToString())
    return root


def start_workers(examples, transform_output, tmp_path, monkeypatch, epochs: int) -> list:
    """Two workers of one cluster; each has its own output folders, as two machines would."""
    monkeypatch.setitem(registry.MODELS, distributed_worker.SMALL_MODEL, None)
    distributed_worker.register_small_model(SMALL_IMAGE_SIZE)
    training = settings.Training(model_name=distributed_worker.SMALL_MODEL, recipe=settings.Recipe(epochs=epochs),
                                 batch_size=4, distribution="multi_worker_mirrored")
    cluster = {"worker": [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]}
    workers = []
    for index in range(2):
        folder = tmp_path / f"worker{index}"
        job = {"examples": str(examples), "transform": transform_output.transform_savedmodel_dir.rsplit("/", 1)[0],
               "serving_model_dir": str(folder / "serving_model"), "model_run_dir": str(folder / "model_run"),
               "custom_config": settings.to_custom_config(training, CLASS_NAMES), "image_size": SMALL_IMAGE_SIZE}
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
               "CUDA_VISIBLE_DEVICES": ""}
        folder.mkdir()
        log = open(folder / "log", "w")
        workers.append((subprocess.Popen([sys.executable, "-m", "tests.distributed_worker", json.dumps(job)],
                                         cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT), folder))
    return workers


def wait_all(workers) -> list:
    """Exit codes, every worker killed if the cluster outlives WORKER_TIMEOUT_S."""
    deadline = time.monotonic() + WORKER_TIMEOUT_S
    try:
        return [process.wait(timeout=max(1, deadline - time.monotonic())) for process, _ in workers]
    except subprocess.TimeoutExpired:
        pytest.fail(f"the workers did not finish within {WORKER_TIMEOUT_S} s:\n" + logs(workers))
    finally:
        for process, _ in workers:
            process.kill()


def logs(workers) -> str:
    return "\n".join(f"--- {folder.name}\n{(folder / 'log').read_text()[-3000:]}" for _, folder in workers)


def test_two_workers_train_together_and_the_chief_alone_exports_a_model_that_serves(
        examples, transform_output, tmp_path, monkeypatch):
    workers = start_workers(examples, transform_output, tmp_path, monkeypatch, epochs=2)
    assert wait_all(workers) == [0, 0], logs(workers)
    (_, chief), (_, other) = workers
    for _, folder in workers:  # each trained as one of 2 replicas on global batches of 2 x 4
        assert "multi_worker_mirrored over 2 replicas, 8 images a step" in (folder / "log").read_text()
        assert "epoch 2/2" in (folder / "log").read_text()
        assert "ran out of data" not in (folder / "log").read_text()  # each took all of its epochs' steps
    assert (chief / "serving_model" / "saved_model.pb").is_file()
    assert not (other / "serving_model").exists()
    assert "the chief exports the model" in (other / "log").read_text()
    assert json.loads((chief / "model_run" / "history.json").read_text())["config"]["distribution"] == \
        "multi_worker_mirrored"

    served = tf.saved_model.load(str(chief / "serving_model"))
    outputs = served.signatures[exporter.SERVING_JPEG](
        image_bytes=tf.constant([jpeg_bytes(color=colour) for colour in COLOURS]))
    probabilities = outputs["probabilities"].numpy()
    assert probabilities.shape == (3, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert set(outputs["class_name"].numpy().astype(str)) <= set(CLASS_NAMES)


def test_a_worker_that_dies_fails_the_other_with_one_line_not_a_hang(examples, transform_output, tmp_path,
                                                                        monkeypatch):
    workers = start_workers(examples, transform_output, tmp_path, monkeypatch, epochs=1000)
    (chief, chief_folder), (other, other_folder) = workers
    deadline = time.monotonic() + WORKER_TIMEOUT_S
    while "epoch 1/1000:" not in (other_folder / "log").read_text():  # training is under way on both
        assert other.poll() is None and time.monotonic() < deadline, logs(workers)
        time.sleep(0.5)
    other.kill()
    codes = wait_all(workers)
    assert codes[0] == 1, logs(workers)
    last_line = (chief_folder / "log").read_text().strip().splitlines()[-1]
    assert last_line.startswith("worker: error: WorkerLost: training lost contact with a worker of its cluster"), \
        logs(workers)
    assert not (chief_folder / "serving_model").exists()
