"""Publishing to the serving directory: whole versions or nothing, and no duplicate of the newest."""
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tensorflow as tf

from components import atomic_pusher
from components import crash_points
from modules import exporter
from client.pushed_model import version_dirs
from tests.conftest import tree


def saved_model(directory: Path, value: float) -> Path:
    module = tf.Module()
    module.weight = tf.Variable(value)
    module.scale = tf.function(lambda x: x * module.weight, input_signature=[tf.TensorSpec([], tf.float32)])
    tf.saved_model.save(module, str(directory))
    return directory


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return saved_model(root / "a", 1.0), saved_model(root / "b", 2.0)


def test_publishes_a_complete_numeric_version(models, tmp_path):
    serving = tmp_path / "serving"
    published = atomic_pusher.publish(models[0], serving)
    assert published.parent == serving and published.name.isdigit()
    assert tree(published) == tree(models[0])
    assert list(serving.iterdir()) == [published]
    assert not atomic_pusher.staging_root(serving).exists()


def test_the_newest_model_is_not_published_twice(models, tmp_path):
    serving = tmp_path / "serving"
    first = atomic_pusher.publish(models[0], serving)
    assert atomic_pusher.publish(models[0], serving) == first
    assert version_dirs(serving) == [first]


def test_a_new_model_gets_a_higher_version_even_within_the_same_second(models, tmp_path):
    serving = tmp_path / "serving"
    first = atomic_pusher.publish(models[0], serving)
    second = atomic_pusher.publish(models[1], serving)
    assert int(second.name) > int(first.name)
    assert version_dirs(serving) == [first, second]
    assert tree(second) == tree(models[1])


def test_a_push_killed_before_publishing_leaves_the_serving_directory_untouched(models, tmp_path):
    serving = tmp_path / "serving"
    first = atomic_pusher.publish(models[0], serving)
    code = f"from components import atomic_pusher; atomic_pusher.publish({str(models[1])!r}, {str(serving)!r})"
    killed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, crash_points.ENVIRONMENT_VARIABLE: "pusher-before-publish"})
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert list(serving.iterdir()) == [first]
    staged = list(atomic_pusher.staging_root(serving).iterdir())
    assert len(staged) == 1 and tree(staged[0]) == tree(models[1])  # the whole copy was there, unpublished

    second = atomic_pusher.publish(models[1], serving)  # the next push clears the leftover
    assert version_dirs(serving) == [first, second]
    assert not atomic_pusher.staging_root(serving).exists()


# Each process imports, says it is ready, waits for the word, then publishes: the pushes start together.
PUBLISH_ON_THE_WORD = """
import pathlib, sys, time
from components import atomic_pusher
model, serving, ready, go = sys.argv[1:]
pathlib.Path(ready).touch()
while not pathlib.Path(go).exists():
    time.sleep(0.002)
print(atomic_pusher.publish(model, serving))
"""


def publish_at_once(model_dirs, serving: Path, tmp_path: Path) -> list:
    """Publishes every model from its own process, all starting in the same millisecond or so; returns
    the version each one reports."""
    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{i}" for i in range(len(model_dirs))]
    processes = [subprocess.Popen([sys.executable, "-c", PUBLISH_ON_THE_WORD, str(model), str(serving), str(flag),
                                   str(go)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for model, flag in zip(model_dirs, ready)]
    deadline = time.monotonic() + 300
    while not all(flag.exists() for flag in ready):
        assert time.monotonic() < deadline and all(p.poll() is None for p in processes), "a publisher did not start"
        time.sleep(0.05)
    go.touch()
    results = [p.communicate(timeout=300) for p in processes]
    for process, (_, stderr) in zip(processes, results):
        assert process.returncode == 0, stderr[-2000:]
    return [Path(stdout.strip().splitlines()[-1]) for stdout, _ in results]


def test_concurrent_pushes_of_two_models_get_two_versions(models, tmp_path):
    serving = tmp_path / "serving"
    published = publish_at_once(models, serving, tmp_path)
    assert len(set(published)) == 2 and sorted(version_dirs(serving)) == sorted(published)
    assert {tree(p)["saved_model.pb"] for p in published} == {tree(m)["saved_model.pb"] for m in models}
    assert not atomic_pusher.staging_root(serving).exists()


def test_concurrent_pushes_of_one_model_publish_it_once(models, tmp_path):
    serving = tmp_path / "serving"
    published = publish_at_once([models[0], models[0]], serving, tmp_path)
    assert published[0] == published[1] and version_dirs(serving) == [published[0]]
    assert not atomic_pusher.staging_root(serving).exists()


def with_classes(model: Path, target: Path, names) -> Path:
    """A copy of `model` carrying a class list, as the exporter writes it (modules/exporter.py)."""
    shutil.copytree(model, target)
    (target / exporter.CLASS_NAMES_FILE).parent.mkdir(parents=True, exist_ok=True)
    (target / exporter.CLASS_NAMES_FILE).write_text("".join(f"{name}\n" for name in names))
    return target


def test_a_model_of_other_classes_is_not_pushed_over_the_serving_one_unless_asked(models, tmp_path):
    serving = tmp_path / "serving"
    clothes = atomic_pusher.publish(with_classes(models[0], tmp_path / "clothes", ["hat", "shoes", "skirt"]), serving)
    colours = with_classes(models[0], tmp_path / "colours", ["blue", "green"])  # other classes, not other weights
    with pytest.raises(atomic_pusher.ClassListChanged) as refused:
        atomic_pusher.publish(colours, serving)
    assert str(refused.value) == (
        f"not pushed: {clothes} classifies other classes (3 classes: hat, shoes, skirt; this model: 2 classes: blue, "
        "green); give this data its own --pipeline-name (or --serving-dir), or push with --replace-class-list to "
        "replace it")
    assert version_dirs(serving) == [clothes] and not atomic_pusher.staging_root(serving).exists()
    # The same classes in another model: pushed as usual; asked explicitly: the other classes replace them.
    same = atomic_pusher.publish(with_classes(models[1], tmp_path / "more clothes", ["hat", "shoes", "skirt"]), serving)
    replaced = atomic_pusher.publish(colours, serving, replace_class_list=True)
    assert version_dirs(serving) == [clothes, same, replaced]
