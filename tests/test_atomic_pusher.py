"""Publishing to the serving directory: whole versions or nothing, and no duplicate of the newest."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tensorflow as tf

from components import atomic_pusher
from components import crash_points
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
