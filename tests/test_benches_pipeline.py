"""Smoke runs of the benchmarks that run the whole pipeline (bench/common.py): accuracy, then the
serving latency of the model it pushed and an int8 TensorFlow Lite copy of it, the pipeline's
overhead, and determinism, each on a tiny copy of the sample with the notebook's arch_1 for one epoch.
What the docs read from each is checked to be there; the figures themselves are not judged."""
import json

import pytest

from tests.conftest import copy_sample
from tests.test_benches import bench

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

ONE_EPOCH = "arch_1:--epochs=1 --accuracy-floor=0 --class-recall-floor=0"


def printed_json(text: str) -> dict:
    return json.loads(text[text.index("{\n"):])


def test_accuracy_then_the_serving_latency_of_the_model_it_pushed(tmp_path):
    data = copy_sample(tmp_path / "data", per_class=(3, 2))
    output = tmp_path / "accuracy"
    out = bench("bench/accuracy.py", "--data-root", data, "--row", ONE_EPOCH, "--output", output)
    rows = json.loads((output / "accuracy.json").read_text())
    assert [(r["model"], r["epochs"], r["blessed"]) for r in rows] == [("arch_1", 1, True)]
    assert sorted(rows[0]["recall"]) == ["hat", "shoes", "skirt"] and 0 <= rows[0]["validation_accuracy"] <= 1
    assert (output / "per_class_recall.png").stat().st_size > 0 and "| arch_1 --epochs=1" in out.stdout

    serving = output / "runs" / "serving_model" / "accuracy-0-arch-1"
    latency = printed_json(bench("bench/serving_latency.py", "--model", serving, "--images", data / "validation",
                                 "--requests", "3", "--batch", "2", "--architecture", "arch_1").stdout)
    assert latency["images"] == 6 and latency["one_image_ms"]["p50"] > 0
    assert latency["arithmetic_limit_ms_per_image"] > 0 and latency["jpeg_via_xnnpack_p50_over_limit"] > 0
    assert latency["one_image_parts_ms"]["network_xnnpack_tensorflow"] > 0  # the interpreter LiteRT replaced
    # Every runtime in the same run: each pushed TensorFlow Lite file's request beside the SavedModel's.
    for runtime in ("tflite", "tflite_int8"):
        assert latency[f"{runtime}_p50_over_limit"] > 0 and 0 <= latency[f"{runtime}_agrees_with_saved_model"] <= 1

    int8 = printed_json(bench("bench/tflite_int8.py", "--model", serving, "--images", data / "validation",
                              "--calibration", data / "train", "--calibration-images", "4").stdout)
    assert int8["images"] == 6 and int8["calibration_images"] == 4
    assert 0 < int8["bytes"]["int8"] < int8["bytes"]["float32"] / 2  # int8 weights: a quarter of the bytes, nearly
    assert sorted(int8["recall"]["int8"]) == ["hat", "shoes", "skirt"] and 0 <= int8["top_class_agreement"] <= 1
    dynamic = printed_json(bench("bench/tflite_int8.py", "--model", serving, "--images", data / "validation",
                                 "--quantization", "dynamic").stdout)  # int8 weights alone: no calibration
    assert dynamic["calibration_images"] == 0 and 0 < dynamic["bytes"]["dynamic"] < dynamic["bytes"]["float32"] / 2
    assert sorted(dynamic["network_p50_ms"]) == ["dynamic", "float32"]


def test_pipeline_overhead_times_every_step(tmp_path):
    data = copy_sample(tmp_path / "data", per_class=(3, 2))
    out = bench("bench/pipeline_overhead.py", "--data-root", data, "--model", "arch_1",
                "--beam", "--direct_running_mode=in_memory --direct_num_workers=1").stdout
    for step in ("ImageExampleGen", "Transform", "Trainer", "Evaluator", "**all but the Trainer**"):
        assert f"| {step} | " in out, out


def test_determinism_runs_the_pipeline_twice_and_finds_them_equal(tmp_path):
    data = copy_sample(tmp_path / "data", per_class=(3, 2))
    summary = printed_json(bench("bench/determinism.py", "--data-root", data, "--model", "arch_1",
                                 "--epochs", "1").stdout)
    assert summary["metrics_compared"] > 0 and summary["variables_compared"] > 0
    assert summary["metrics_differing"] == 0 and summary["same_history"] and not summary["variables_differing"]
