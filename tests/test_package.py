"""The project as a user installs it: the wheel built from this checkout, installed with the run-time lock
alone into a fresh virtualenv, used from a folder far from the checkout. Every command works there and
nothing it runs or reads comes from the checkout."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import COMPONENTS, REPO_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

UV = REPO_ROOT / ".tools" / "bin" / "uv"
TIMEOUT = 900


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(the fresh virtualenv's bin folder, a working folder outside the checkout)."""
    base = tmp_path_factory.mktemp("installed")
    dist = base / "dist"
    # The checkout's own build tools (the locked setuptools and wheel), as the Kubeflow image builds it.
    subprocess.run([UV, "build", "--wheel", "--no-build-isolation", "--python", sys.executable, "--out-dir", dist,
                    REPO_ROOT], check=True, capture_output=True, timeout=TIMEOUT)
    wheel = next(dist.glob("image_classification_pipeline-*.whl"))
    venv = base / "venv"
    python = os.path.realpath(sys.executable)  # the interpreter behind the checkout's virtualenv
    subprocess.run([UV, "venv", "--quiet", "--python", python, venv], check=True, timeout=TIMEOUT)
    env = dict(os.environ, VIRTUAL_ENV=str(venv))
    for command in (["pip", "sync", "--quiet", REPO_ROOT / "requirements.lock"],
                    ["pip", "install", "--quiet", "--no-deps", wheel]):
        subprocess.run([UV, *command], check=True, env=env, timeout=TIMEOUT)
    work = base / "work"
    work.mkdir()
    return venv / "bin", work


def run(installed, *args, timeout=TIMEOUT) -> subprocess.CompletedProcess:
    bin_dir, work = installed
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "TF_USE_LEGACY_KERAS")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=work, env=env, timeout=timeout)


def test_nothing_is_imported_from_the_checkout(installed):
    probe = ("import cli, client, components, kubeflow, local_runner, modules, pipeline, schema\n"
             "from modules import decision_bias\n"
             "from pipeline import configs\n"
             "print(*[m.__file__ for m in"
             " (cli, client, components, kubeflow, local_runner, modules, pipeline, schema)],"
             " decision_bias.FOLDER, configs.SCHEMA_DIR, configs.SAMPLE_DATA_ROOT, sep='\\n')")
    result = run(installed, "python", "-c", probe)
    assert result.returncode == 0, result.stderr[-2000:]
    paths = result.stdout.split("\n")[:-1]
    assert len(paths) == 11 and all("/site-packages/" in p and not p.startswith(str(REPO_ROOT)) for p in paths), paths
    # The decision biases the Trainer folds in travel in the package (and so in the Kubeflow image).
    shipped = {p.name for p in (REPO_ROOT / "modules" / "decision_biases").glob("*.json")}
    assert shipped and {p.name for p in Path(paths[-3]).glob("*.json")} == shipped
    assert (Path(paths[-2]) / "schema.pbtxt").is_file()
    assert {p.name for p in (Path(paths[-1]) / "train").iterdir()} == {
        "dress", "hat", "longsleeve", "outwear", "pants", "shirt", "shoes", "shorts", "skirt", "t-shirt"}


def test_the_only_dependencies_are_the_run_time_lock(installed):
    result = run(installed, "python", "-c", "import pytest")
    assert result.returncode == 1 and "No module named 'pytest'" in result.stderr


@pytest.fixture(scope="module")
def bare_run(installed):
    """`image-pipeline run` with no data root, from the working folder: the bundled sample."""
    return run(installed, "image-pipeline", "run", "--model", "arch_1", "--epochs", "1")


def test_a_bare_run_trains_the_bundled_sample_and_writes_under_the_working_folder(installed, bare_run):
    _, work = installed
    assert bare_run.returncode == 0, bare_run.stderr[-3000:]
    assert "model: BLESSED; pushed to: " in bare_run.stdout
    serving = work / "outputs" / "serving_model" / "image-classification-sample"
    versions = [p for p in serving.iterdir() if p.name.isdigit()]
    assert len(versions) == 1 and (versions[0] / "saved_model.pb").is_file()
    # The line per step (the CLI recognises the installed code's log records as its own).
    steps = [line for line in bare_run.stderr.splitlines() if " INFO step " in line]
    assert any("Trainer: epoch 1/1" in line for line in steps), bare_run.stderr[-3000:]
    assert any("Pusher" in line for line in steps)
    # A line as each step ends, read from ML Metadata (cli/logs.py): every node once, in order.
    ended = [found.groups() for found in map(re.compile(r" INFO step (\d+): (\w+) (COMPLETE|CACHED) in ").search, steps)
             if found]
    assert [int(number) for number, _, _ in ended] == list(range(1, len(ended) + 1))
    assert sorted(node for _, node, _ in ended) == sorted(COMPONENTS)
    assert "Traceback" not in bare_run.stderr


def test_predict_evaluate_and_report_on_the_installed_run(installed, bare_run):
    _, work = installed
    serving = work / "outputs" / "serving_model" / "image-classification-sample"
    sample = Path(run(installed, "python", "-c", "from pipeline import configs; print(configs.SAMPLE_DATA_ROOT)")
                  .stdout.strip())
    image = sorted((sample / "validation" / "hat").iterdir())[0]
    predicted = run(installed, "image-pipeline", "predict", "--model", serving, image)
    assert predicted.returncode == 0 and predicted.stdout.startswith(f"{image}: "), predicted.stderr[-2000:]
    evaluated = run(installed, "image-pipeline", "evaluate", "--model", serving, "--data", sample / "validation")
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    assert json.loads(evaluated.stdout)["n"] == 80
    reported = run(installed, "image-pipeline", "report")
    assert reported.returncode == 0, reported.stderr[-2000:]
    page = work / reported.stdout.strip()  # relative to the working folder, or absolute
    assert page.is_file() and page.is_relative_to(work / "outputs" / "pipelines" / "image-classification-sample")
    assert "image-classification-pipeline 0.1.0" in page.read_text(encoding="utf-8")  # lineage: not a checkout


def test_ingest_and_compile_kubeflow_from_the_installed_copy(installed):
    _, work = installed
    sample = run(installed, "python", "-c",
                 "from pipeline import configs; print(configs.SAMPLE_DATA_ROOT)").stdout.strip()
    ingested = run(installed, "image-pipeline", "ingest", "--data-root", sample, "--output", work / "ingested")
    assert ingested.returncode == 0, ingested.stderr[-2000:]
    assert json.loads(ingested.stdout)["files_ingested"] == 320
    compiled = run(installed, "image-pipeline", "compile-kubeflow", "--output", work / "pipeline.json",
                   "--pipeline-root", "gs://bucket/root", "--image", "registry.example/image-pipeline:1",
                   "--data-root", "gs://bucket/data", "--class-names", "a,b")
    assert compiled.returncode == 0, compiled.stderr[-2000:]
    assert json.loads((work / "pipeline.json").read_text())["pipelineSpec"]["pipelineInfo"]["name"]
