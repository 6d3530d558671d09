"""create_pipeline gives every node its id from components/ids.py, whatever TFX would call it."""
from components import ids
from modules import settings
from pipeline import configs, pipeline

COMPONENT_IDS = {ids.IMAGE_EXAMPLE_GEN, ids.SCHEMA_GEN, ids.STATISTICS_GEN, ids.EXAMPLE_VALIDATOR, ids.TRANSFORM,
                 ids.TUNER, ids.TRAINER, ids.BASELINE, ids.EVALUATOR, ids.PUSHER, ids.RUN_REPORT}


def test_every_node_is_given_its_id(tmp_path):
    built = pipeline.create_pipeline(
        pipeline_name="ids", pipeline_root=str(tmp_path / "root"), data_root=str(configs.SAMPLE_DATA_ROOT),
        splits=["train", "eval"], class_names=["hat", "shoes"], schema_dir=str(configs.SCHEMA_DIR),
        serving_model_dir=str(tmp_path / "serving"), settings=settings.Settings(tuning=settings.Tuning()))
    given = [node._id for node in built.components]  # None where TFX would fall back to the class name
    assert sorted(given) == sorted(COMPONENT_IDS)
