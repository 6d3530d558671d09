"""TensorBoard, as the README tells users to start it, serves a real run's training curves."""
import json
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from components.run_report import run_summary
from tests.conftest import free_port

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def fetch_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def test_tensorboard_starts_and_serves_the_trainers_scalars(sample_run, sample_settings):
    run = run_summary.find_run(str(sample_settings.metadata_path), sample_settings.pipeline_name, sample_run.run_id)
    log_dir = run.output("Trainer", "model_run").uri
    epochs = len(json.loads((Path(log_dir) / "history.json").read_text())["history"]["loss"])
    port = free_port()
    server = subprocess.Popen([str(Path(sys.executable).parent / "tensorboard"), "--logdir", log_dir,
                               "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}/data/plugin/scalars"
    try:
        deadline = time.time() + 120
        tags = {}
        while time.time() < deadline:  # it loads the event files in the background
            assert server.poll() is None, server.stdout.read()[-3000:]
            try:
                tags = fetch_json(f"{base}/tags")
            except (urllib.error.URLError, ConnectionError):
                pass
            if {"train", "validation"} <= set(tags):
                break
            time.sleep(1)
        assert "epoch_loss" in tags.get("train", {}), tags
        query = urllib.parse.urlencode({"run": "train", "tag": "epoch_loss"})
        points = fetch_json(f"{base}/scalars?{query}")
        assert [step for _, step, _ in points] == list(range(epochs))
        assert all(value > 0 for _, _, value in points)
    finally:
        server.terminate()
        server.wait(timeout=30)
