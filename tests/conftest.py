"""Shared fixtures. Images are made from the bundled sample (real photos) or drawn with PIL."""
import contextlib
import io
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
from PIL import Image

from components import ids
from pipeline import configs

REPO_ROOT = Path(__file__).resolve().parents[1]  # the checkout the tests run from
SAMPLE = configs.SAMPLE_DATA_ROOT
# The command-line tool that setup.py installs beside this interpreter.
CLI = str(Path(sys.executable).parent / "image-pipeline")
LOCAL_RUNNER = str(REPO_ROOT / "local_runner.py")
# The steps of a run without a Tuner.
COMPONENTS = {ids.IMAGE_EXAMPLE_GEN, ids.STATISTICS_GEN, ids.SCHEMA_GEN, ids.EXAMPLE_VALIDATOR, ids.TRANSFORM,
              ids.TRAINER, ids.BASELINE, ids.EVALUATOR, ids.PUSHER, ids.RUN_REPORT}


def run_cli_in_process(*args) -> subprocess.CompletedProcess:
    """`image-pipeline ARGS` through cli.main in this process: what a subprocess would print and return,
    without the seconds a new interpreter takes to import TensorFlow. The environment is read as the
    command line is parsed (cli/arguments.py), so monkeypatched variables count."""
    from cli import main as cli
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = cli.main([str(a) for a in args])
    return subprocess.CompletedProcess(["image-pipeline", *args], code, stdout.getvalue(), stderr.getvalue())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def jpeg_bytes(color=(255, 0, 0), size=(64, 48), fmt="JPEG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt)
    return buffer.getvalue()


def sample_images(split: str, class_name: str):
    return sorted((SAMPLE / split / class_name).glob("*.jpg"))


def copy_sample(target: Path, classes=("hat", "shoes", "skirt"), per_class=(4, 2)) -> Path:
    """A small dataset of real images in the ingestion layout: train/ and validation/."""
    for split, count in zip(("train", "validation"), per_class):
        for class_name in classes:
            (target / split / class_name).mkdir(parents=True)
            for path in sample_images(split, class_name)[:count]:
                shutil.copy(path, target / split / class_name / path.name)
    return target


COLOURS = {"blue": (40, 40, 220), "green": (40, 200, 40), "red": (220, 40, 40)}


def write_colour_dataset(root: Path, per_class=(16, 8)) -> Path:
    """A dataset a CNN learns within an epoch: each class is noise around one colour."""
    rng = np.random.default_rng(111)
    for split, count in zip(("train", "validation"), per_class):
        for name, colour in COLOURS.items():
            (root / split / name).mkdir(parents=True)
            for index in range(count):
                pixels = np.clip(rng.normal(colour, 40, (64, 64, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(root / split / name / f"{index}.jpg", quality=90)
    return root


def tree(directory: Path) -> dict:
    """Every file under directory, by relative path, with its bytes: equal trees are equal copies."""
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def record_another_run(metadata_path: str, pipeline_name: str, name: str = "another-run") -> str:
    """Records in ML Metadata a newer run of the pipeline that stopped after its first step, as
    another process's run (or a crashed one) leaves it; returns its id."""
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2
    from components.run_report import run_summary
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = metadata_path
    store = metadata_store.MetadataStore(config)
    first_step = run_summary.find_run(metadata_path, pipeline_name).executions[0]
    run_type = store.get_context_type("pipeline_run")
    (context_id,) = store.put_contexts([metadata_store_pb2.Context(type_id=run_type.id, name=name)])
    store.put_attributions_and_associations(
        [], [metadata_store_pb2.Association(context_id=context_id, execution_id=first_step.id)])
    return name


@pytest.fixture
def small_dataset(tmp_path) -> Path:
    return copy_sample(tmp_path / "data")


SMALL_IMAGE_SIZE = 32  # the graph is the same at every size; small is fast


def raw_example(image: bytes, label: int = 0, label_name: str = "hat", filename: str = "train/hat/x.jpg") -> dict:
    from modules import features  # the image-property features are optional: none here
    return {"image_raw": [image], "label": [label], "label_name": [label_name.encode()],
            "filename": [filename.encode()], **{key: [] for key in features.SLICE_KEYS}}


@pytest.fixture(scope="session")
def raw_schema():
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2
    return text_format.Parse((configs.SCHEMA_DIR / "schema.pbtxt").read_text(), schema_pb2.Schema())


@pytest.fixture(scope="session")
def transform_output(tmp_path_factory, raw_schema):
    """A real tf.Transform output of modules.preprocessing, analysed with the Beam implementation."""
    import apache_beam as beam
    import tensorflow_transform as tft
    import tensorflow_transform.beam as tft_beam
    from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io

    from modules import preprocessing

    directory = tmp_path_factory.mktemp("transform")
    metadata = dataset_metadata.DatasetMetadata(raw_schema)
    with beam.Pipeline() as pipeline, tft_beam.Context(temp_dir=str(directory / "tmp")):
        raw_data = pipeline | beam.Create([raw_example(jpeg_bytes())])
        transform_fn = (raw_data, metadata) | tft_beam.AnalyzeDataset(
            lambda inputs: preprocessing.preprocessing_fn(inputs, {"image_size": SMALL_IMAGE_SIZE}))
        _ = transform_fn | tft_beam.WriteTransformFn(str(directory / "transform_fn"))
    # TFX's Transform executor also records the raw metadata; the exporter reads its feature spec.
    metadata_io.write_metadata(metadata, str(directory / "transform_fn" / tft.TFTransformOutput.RAW_METADATA_DIR))
    return tft.TFTransformOutput(str(directory / "transform_fn"))


@pytest.fixture(scope="session")
def sample_settings(tmp_path_factory):
    """A run of the whole pipeline, with the default model, on the bundled sample: one epoch shows
    the mechanics (the sample cannot train a useful model, configs.py), no floors, so it is blessed
    and pushed."""
    from cli import local
    from modules import settings
    return local.LocalRunSettings(data_root=SAMPLE, output_root=tmp_path_factory.mktemp("sample-run"),
                                  settings=settings.Settings(
                                      settings.Training(recipe=settings.Recipe(epochs=1)),
                                      settings.Gates(accuracy_floor=0.0, class_recall_floor=0.0)))


@pytest.fixture(scope="session")
def sample_run(sample_settings):
    """Its RunSummary; shared by the end-to-end, report and notebook tests."""
    from cli import local
    return local.run(sample_settings)


# Test files that use the session's sample run: one xdist worker runs them all, so that the run is
# made once (pytest_xdist_make_scheduler below). Collection checks that the list is complete.
SAMPLE_RUN_FILES = ("tests/test_notebooks.py", "tests/test_pipeline_e2e.py", "tests/test_report.py",
                    "tests/test_report_browser.py", "tests/test_tensorboard.py")


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = item.nodeid.split("::", 1)[0]
        if "sample_run" in item.fixturenames and path not in SAMPLE_RUN_FILES:
            raise pytest.UsageError(
                f"{path} uses the sample_run fixture: add it to SAMPLE_RUN_FILES in tests/conftest.py")


def pytest_xdist_make_scheduler(config, log):
    """Like --dist loadfile (a file's tests, and its module fixtures, on one worker), with the files
    of the sample run as one unit."""
    from xdist.scheduler import LoadScopeScheduling

    class Scheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            path = nodeid.split("::", 1)[0]
            return "sample run" if path in SAMPLE_RUN_FILES else path

    return Scheduling(config, log)
