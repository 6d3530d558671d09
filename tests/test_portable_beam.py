"""Beam beyond one process: the data steps through Beam's portable path, the one Flink and Spark
workers use, with an embedded job service and an external pool of Python SDK workers, give the same
examples, statistics and transform graph as the DirectRunner."""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_data_validation as tfdv
import tensorflow_transform as tft
from tfx import v1 as tfx

from modules import features
from components.image_example_gen import manifest
from pipeline import configs, pipeline
from tests.conftest import copy_sample, free_port, jpeg_bytes

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def worker_pool():
    """`python -m apache_beam.runners.worker.worker_pool_main`: it starts SDK workers as `python` from
    PATH, so this virtualenv's bin goes first."""
    port = free_port()
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    pool = subprocess.Popen([sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main",
                             f"--service_port={port}"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        assert pool.poll() is None and time.time() < deadline, "the worker pool did not start"
        time.sleep(0.2)
    yield port
    pool.terminate()
    pool.wait(timeout=30)


def run_data_steps(data_root: Path, root: Path, beam_args: list) -> dict:
    data = pipeline.make_data_components(str(data_root), ["train", "eval"], str(configs.SCHEMA_DIR), 32)
    tfx.orchestration.LocalDagRunner().run(tfx.dsl.Pipeline(
        pipeline_name="portable", pipeline_root=str(root), components=list(data), enable_cache=False,
        beam_pipeline_args=beam_args,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            str(root / "metadata.sqlite"))))
    return {"examples": next((root / "ImageExampleGen" / "examples").iterdir()),
            "statistics": next((root / "StatisticsGen" / "statistics").iterdir()),
            "transform": next((root / "Transform" / "transform_graph").iterdir())}


@pytest.fixture(scope="module")
def both(tmp_path_factory, worker_pool):
    base = tmp_path_factory.mktemp("portable")
    data = copy_sample(base / "data")
    direct = run_data_steps(data, base / "direct", configs.DEFAULT_BEAM_PIPELINE_ARGS)
    portable = run_data_steps(data, base / "portable", [
        "--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=EXTERNAL",
        f"--environment_config=localhost:{worker_pool}"])
    return direct, portable


def records(examples_dir: Path, split: str) -> dict:
    """The split's examples by file name, parsed: a map field's byte order is not fixed from one
    process to another, so the serialized records are not comparable byte for byte."""
    files = tf.io.gfile.glob(str(examples_dir / f"Split-{split}" / "*"))
    examples = [tf.train.Example.FromString(r.numpy())
                for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]
    return {e.features.feature[features.FILENAME_KEY].bytes_list.value[0]: e for e in examples}


def test_ingestion_writes_the_same_examples(both):
    direct, portable = both
    for split in ("train", "eval"):
        expected = records(direct["examples"], split)
        assert expected and records(portable["examples"], split) == expected
    manifests = [manifest.read(run["examples"]) for run in both]
    assert manifests[0]["counts"] == manifests[1]["counts"] and manifests[0]["files_found"] == 18


def test_statistics_are_the_same(both):
    direct, portable = both
    for split in ("train", "eval"):
        a, b = (tfdv.load_stats_binary(str(run["statistics"] / f"Split-{split}" / "FeatureStats.pb")).datasets[0]
                for run in both)
        assert a.num_examples == b.num_examples > 0
        features = {f.path.step[0]: f for f in a.features}
        for feature in b.features:
            assert feature == features[feature.path.step[0]], (split, feature.path.step)


def test_the_transform_graphs_compute_the_same(both):
    images = [jpeg_bytes((200, 30, 30), (50, 40)), jpeg_bytes((10, 10, 240), (64, 64))]
    serialized = tf.constant([features.make_example(image, 1, "hat", "x.jpg").SerializeToString() for image in images])
    outputs = []
    for run in both:
        transform_output = tft.TFTransformOutput(str(run["transform"]))
        batch = tf.io.parse_example(serialized, transform_output.raw_feature_spec())
        outputs.append(transform_output.transform_features_layer()(batch))
    assert set(outputs[0]) == set(outputs[1])
    for key in outputs[0]:
        np.testing.assert_array_equal(outputs[0][key].numpy(), outputs[1][key].numpy())
