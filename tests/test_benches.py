"""Smoke runs of the benchmarks whose figures docs/benchmarks.md quotes, on a tiny input: each runs as
its command line says and prints what the docs read from it (the figures themselves are not judged)."""
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tests.conftest import REPO_ROOT, copy_sample


def bench(*args, timeout=900) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, *map(str, args)], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.slow
@pytest.mark.e2e
def test_scale_runs_the_whole_pipeline_and_writes_each_row(tmp_path):
    data = copy_sample(tmp_path / "data", per_class=(3, 2))
    results = tmp_path / "scale.json"
    out = bench("bench/scale.py", "--data-root", data, "--factors", "1", "--model", "arch_1", "--results", results)
    rows = json.loads(results.read_text())
    assert [(r["N"], r["images"], r["model"]) for r in rows] == [(1, 15, "arch_1")]
    steps = rows[0]["steps"]
    assert set(steps) == {"ImageExampleGen", "ImportSchemaGen", "LatestPushedModel", "StatisticsGen", "Transform",
                          "ExampleValidator", "Trainer", "Evaluator", "Pusher", "RunReport"}
    for step in ("ImageExampleGen", "StatisticsGen", "Transform", "Trainer", "Evaluator", "RunReport"):
        assert steps[step]["seconds"] > 0 and steps[step]["peak_MB"] > 100, (step, steps[step])
    assert rows[0]["process_peak_MB"] >= max(s["peak_MB"] for s in steps.values()) * 0.9
    assert 0 < rows[0]["train_epoch_s"] <= steps["Trainer"]["seconds"]
    assert "| Trainer | " in out.stdout and "| whole process (peak MB) |" in out.stdout


@pytest.mark.slow
def test_input_cache_trains_in_every_mode(tmp_path):
    data = copy_sample(tmp_path / "data", per_class=(2, 1))
    out = bench("bench/input_cache.py", "--data-root", data, "--epochs", "2", "--model", "arch_1")
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert [r["mode"] for r in rows] == ["memory", "file", "none"]
    assert all(len(r["epochs"]) == 2 and r["peak_MB"] > 0 for r in rows)
    assert rows[1]["cache_on_disk_MB"] > 0 and rows[0]["cache_on_disk_MB"] == rows[2]["cache_on_disk_MB"] == 0


@pytest.mark.slow
def test_heap_growth_reads_the_cache_under_each_variant():
    out = bench("bench/heap_growth.py", "--images", "300", "--passes", "2")
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert [r["variant"] for r in rows] == ["default", "TF_CPU_ALLOCATOR_USE_BFC=false,TF_ENABLE_ONEDNN_OPTS=0"]
    assert rows[0]["cpu_allocator"] in ("BFC", "oneDNN") and rows[0]["tensorflow_pool_peak_MB"] > 0
    assert rows[1]["cpu_allocator"] == "malloc" and rows[1]["tensorflow_pool_peak_MB"] is None
    assert all(len(r["MB_after_each_pass"]) == 2 and r["peak_MB"] >= max(r["MB_after_each_pass"]) > 100
               for r in rows)


def test_duplicates_reports_the_copies_it_finds(tmp_path):
    import shutil
    data = copy_sample(tmp_path / "data", per_class=(3, 2))
    first = sorted((data / "train" / "hat").iterdir())[0]
    shutil.copy(first, data / "validation" / "hat" / "leaked.jpg")
    report = json.loads(bench("bench/duplicates.py", "--data-root", data).stdout)
    assert report["images"] == 16
    assert report["found"]["exact_across_splits"] == 1
    assert len(report["synthetic_copy_distances"]) == 16 and report["near_distance"] > 0


@pytest.mark.slow
def test_recipe_cv_on_a_made_data_set_takes_the_default_models_recipe_for_small_data(tmp_path):
    data = copy_sample(tmp_path / "data", per_class=(4, 2))
    made = tmp_path / "domains"
    bench("bench/domains.py", "make", "--data-root", data, "--output", made, "--per-class", "5")
    for name, classes, side, mode in (("photos", 3, None, "RGB"), ("grey28", 3, 28, "L"), ("colour32", 3, 32, "RGB"),
                                      ("shapes", 10, 64, "RGB")):
        for split, count in (("train", 4), ("validation", 1)):
            paths = sorted((made / name / split).glob("*/*.png"))
            assert len(paths) == classes * count, (name, split)
        with Image.open(paths[0]) as image:
            assert image.mode == mode and (side is None or image.size == (side, side)), name
            assert side or min(image.size) >= 128  # the photographs as they are
    results, probabilities = tmp_path / "grey28.json", tmp_path / "grey28.npz"
    bench("bench/recipe_cv_cpu.py", "--data-root", made / "grey28", "--recipe", "default", "{}", "--output", results,
          "--folds", "2", "--epochs", "1", "--average-last-epoch", "--probabilities", probabilities)
    entry = json.loads(results.read_text())["default"]
    assert entry["config"]["recipe"]["frozen_blocks"] == 0  # the default model's recipe for small data
    assert all(0 <= fold["averaged"]["accuracy"] <= 1 for fold in entry["per_fold"])
    table = bench("bench/recipe_cv_cpu.py", "--table", results, "--plot", tmp_path / "recall.png").stdout
    with Image.open(tmp_path / "recall.png") as image:
        assert image.format == "PNG" and image.width > 1000
    averaged = "| default, last epoch's weight average `{}` | 2/2 |"
    assert table.count("| default `{}` | 2/2 |") == table.count(averaged) == 1
    assert "| grey28 (15 images) | default | 2/2 |" in bench("bench/domains.py", "table", results).stdout
    # The held-out probabilities of both folds: the decision bias fitted on one, scored on the other.
    evaluated = bench("bench/decision_bias.py", probabilities, "--scoring", "averaged").stdout
    assert evaluated.count("\n| 1 | ") == evaluated.count("\n| 2 | ") == 1
    assert "| class | recall | biased |" in evaluated and "paired accuracy gain: " in evaluated
    # Each class's held-out errors on a contact sheet, a row of tiles for every six.
    stored = np.load(probabilities)
    for label, name in enumerate(stored["class_names"]):
        wrong = int(((stored["labels"] == label) & (stored["plain"].argmax(-1) != label)).sum())
        sheet = tmp_path / f"{name}.png"
        said = bench("bench/class_errors.py", probabilities, "--data-root", made / "grey28", "--class", name,
                     "--sheet", sheet).stdout
        assert said.startswith(f"{name}: {wrong} of 5 held-out images wrong"), said
        with Image.open(sheet) as image:
            assert image.height == max(1, -(-wrong // 6)) * 178
    refused = subprocess.run([sys.executable, "bench/class_errors.py", probabilities, "--data-root", data,
                              "--class", "hat", "--sheet", tmp_path / "x.png"], cwd=REPO_ROOT, capture_output=True,
                             text=True)
    assert refused.returncode == 2 and "was not written for the images of" in refused.stderr
    bound = bench("bench/decision_bias.py", probabilities, "--weakest", "--in-sample").stdout
    assert "the weakest recall: the bias fitted on the fold it is scored on (in sample" in bound
    written = tmp_path / "bias.json"
    bench("bench/decision_bias.py", probabilities, "--write", written, "--results", results, "--recipe", "default")
    bias = json.loads(written.read_text())
    assert bias["class_names"] == entry["class_names"] and len(bias["bias"]) == 3 and abs(sum(bias["bias"])) < 1e-3
    assert (bias["model_name"], bias["recipe"]) == (entry["config"]["model_name"], entry["config"]["recipe"])
    # The levers that train differently, with first blocks frozen, which the linear probe (the
    # network frozen whole) must freeze again after it.
    levers = tmp_path / "photos.json"
    recipe = '{"frozen_blocks": 7, "frozen_batchnorm": true}'
    bench("bench/recipe_cv_cpu.py", "--data-root", made / "photos", "--recipe", "levers", recipe,
          "--output", levers, "--folds", "2", "--only-folds", "1", "--epochs", "1", "--linear-probe", "1",
          "--head-rate", "10", "--int8", "3")
    entry = json.loads(levers.read_text())["levers"]
    assert (entry["linear_probe_epochs"], entry["head_rate"], entry["config"]["recipe"]["frozen_blocks"]) == (1, 10, 7)
    assert entry["config"]["recipe"]["frozen_batchnorm"] is True
    assert 0 <= entry["per_fold"][0]["accuracy"] <= 1
    # The same weights as int8 TensorFlow Lite, scored on the same held-out images.
    int8 = entry["per_fold"][0]["int8"]
    assert (int8["calibration_images"], len(int8["recall"])) == (3, 3) and 0 <= int8["top_class_agreement"] <= 1
    row = f'| levers `{recipe}` after a 1-epoch linear probe with the head at 10.0x the rate | 1/2 |'
    tabled = bench("bench/recipe_cv_cpu.py", "--table", levers).stdout
    assert row in tabled and "\n| levers | 1 | " in tabled  # and its recall per class
    assert "\n| levers, int8 TensorFlow Lite `" in tabled and "\n| levers, int8 TensorFlow Lite | 1 | " in tabled


@pytest.mark.slow
def test_training_levers_measures_a_lever_on_random_data(tmp_path):
    results = tmp_path / "levers.json"
    out = bench("bench/training_levers.py", "--model", "arch_1", "--steps", "2", "--batch-size", "4",
                "--lever", "float32 (the default)", "--lever", "mixed_bfloat16", "--lever", "stem + 3 blocks frozen",
                "--output", results)
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert [row["lever"] for row in rows] == ["float32 (the default)", "mixed_bfloat16", "stem + 3 blocks frozen"]
    assert all(row["step_s_median"] > 0 for row in rows[:2])
    # A lever the model cannot take is a row with its reason, not a failed bench.
    assert rows[2]["failed"] == "ValueError: model 'arch_1' has no EfficientNet-Lite blocks to freeze"
    assert "| lever | step s (median) |" in out.stdout and results.is_file()
