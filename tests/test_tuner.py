"""The optional Tuner: its search never sees the eval split, and the Trainer trains with the
hyperparameters it picked."""
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from cli import local
from modules import registry, settings, tuner
from components.run_report import run_summary
from tests.conftest import write_colour_dataset

pytestmark = pytest.mark.slow


def test_the_search_holds_out_every_fifth_training_example_and_trains_on_the_rest():
    examples = tf.data.Dataset.range(12)
    holdout = list(tuner._fold(keep_holdout=True)(examples).as_numpy_iterator())
    rest = list(tuner._fold(keep_holdout=False)(examples).as_numpy_iterator())
    assert holdout == [0, 5, 10]
    assert sorted(holdout + rest) == list(range(12)) and not set(holdout) & set(rest)


def test_the_search_space_is_around_the_models_own_recipe():
    config = settings.Training(model_name="arch_2", recipe=settings.Recipe(epochs=3, balance_classes=True),
                               batch_size=4).resolved()
    space = tuner.search_space(config)
    assert sorted(space.values) == sorted(settings.TUNABLE)
    assert space.values == {"learning_rate": 1e-3, "augment": False, "balance_classes": True}  # the defaults
    assert sorted(space.get_config()["space"][0]["config"]["values"]) == pytest.approx([1e-3 / 3, 1e-3, 3e-3])


@pytest.fixture(scope="module")
def tuned_run(tmp_path_factory):
    """A tuned run of arch_1 on 64 px images, arch_1 given (for this run) a recipe for small data:
    2 epochs and label smoothing 0.1 (its own: 100 epochs, none)."""
    root = tmp_path_factory.mktemp("tuned")
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(registry.MODELS, "arch_1", dataclasses.replace(
            registry.MODELS["arch_1"], small_data=registry.Recipe(epochs=2, label_smoothing=0.1)))
        run = local.LocalRunSettings(
            data_root=write_colour_dataset(root / "data"), output_root=root / "outputs", pipeline_name="tuned",
            settings=settings.Settings(settings.Training(model_name="arch_1"),
                                       settings.Gates(accuracy_floor=0.0, class_recall_floor=0.0),
                                       settings.Tuning(trials=2, epochs=1)))
        summary = local.run(run)
    return run, summary, run_summary.find_run(str(run.metadata_path), "tuned", summary.run_id)


def test_the_trainer_trains_with_the_tuners_best_hyperparameters(tuned_run):
    _, summary, run = tuned_run
    assert {c.component_id: c.state for c in summary.components}["Tuner"] == "COMPLETE"
    best_file = Path(run.output("Tuner", "best_hyperparameters").uri) / "best_hyperparameters.txt"
    best = json.loads(best_file.read_text())["values"]
    assert sorted(best) == sorted(settings.TUNABLE)
    assert any(best["learning_rate"] == pytest.approx(rate) for rate in [1e-3 / 3, 1e-3, 3e-3])
    trained = json.loads((Path(run.output("Trainer", "model_run").uri) / "history.json").read_text())
    assert {name: trained["config"]["recipe"][name] for name in settings.TUNABLE} == best
    assert summary.blessed and summary.pushed_destination
    assert np.isfinite(trained["history"]["loss"]).all()


def test_the_trainer_takes_the_models_recipe_for_small_data_on_small_data(tuned_run):
    # The run's settings carry both recipes; the Trainer counted 48 training images under 128 px.
    _, _, run = tuned_run
    trained = json.loads((Path(run.output("Trainer", "model_run").uri) / "history.json").read_text())
    assert trained["recipe_choice"] == ("the model's recipe for small data: 48 training images (under 1000 is small), "
                                        "48 of them under 128 px (over half is small)")
    assert (trained["config"]["recipe"]["epochs"], trained["config"]["recipe"]["label_smoothing"]) == (2, 0.1)
    assert trained["config"]["small_data_recipe"] is None and len(trained["history"]["loss"]) == 2
