"""The TFX pipeline, as a pure function of its parameters (no environment is read here)."""
from __future__ import annotations

from typing import NamedTuple, Optional, Sequence

import tensorflow_model_analysis as tfma
from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx

from components import atomic_pusher
from modules import features
from modules import model as models
from pipeline import configs

EVAL_SPLIT = "eval"


def make_input_config(splits: Sequence[str]) -> tfx.proto.Input:
    """One ImportExampleGen split per ingested split folder (pipeline/ingestion.py layout)."""
    return tfx.proto.Input(splits=[tfx.proto.Input.Split(name=s, pattern=f"{s}/*") for s in splits])


def make_eval_config(accuracy_floor: float, regression_tolerance: float) -> tfma.EvalConfig:
    """Overall and per-class (label_name slices) metrics, gated on overall accuracy.

    The gates sit in per_slice_thresholds on the overall slice: a plain `threshold` would
    apply to every per-class slice too. The change threshold is skipped on the first run,
    when there is no blessed baseline yet.
    """
    overall = tfma.SlicingSpec()
    accuracy_gates = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": accuracy_floor}),
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER,
            absolute={"value": -regression_tolerance}))
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(label_key=features.LABEL_KEY, signature_name="serving_default",
                                    prediction_key="probabilities")],
        slicing_specs=[overall, tfma.SlicingSpec(feature_keys=[features.LABEL_NAME_KEY])],
        metrics_specs=[tfma.MetricsSpec(metrics=[
            tfma.MetricConfig(class_name="ExampleCount"),
            tfma.MetricConfig(
                class_name="SparseCategoricalAccuracy",
                per_slice_thresholds=[tfma.PerSliceMetricThreshold(slicing_specs=[overall],
                                                                   threshold=accuracy_gates)]),
            tfma.MetricConfig(class_name="MultiClassConfusionMatrixPlot"),
        ])])


class DataComponents(NamedTuple):
    example_gen: tfx.components.ImportExampleGen
    statistics_gen: tfx.components.StatisticsGen
    schema_gen: tfx.components.ImportSchemaGen
    example_validator: tfx.components.ExampleValidator
    transform: tfx.components.Transform


def make_data_components(examples_uri: str, splits: Sequence[str], schema_dir: str, image_size: int) -> DataComponents:
    """The pipeline's data steps, up to the Transform graph (bench/scale.py runs them alone)."""
    example_gen = tfx.components.ImportExampleGen(
        input_base=examples_uri, input_config=make_input_config(splits))
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = tfx.components.ImportSchemaGen(schema_file=f"{schema_dir}/schema.pbtxt")
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"])
    # Decoded float images are ~7x larger than the JPEGs and slower to read back than to
    # decode again, so Transform only records the graph; the Trainer applies it. Its own
    # statistics would repeat StatisticsGen's before the transform and, after it, profile
    # 49,152 pixel floats per image at the cost of decoding every image once more.
    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"], schema=schema_gen.outputs["schema"],
        preprocessing_fn=configs.PREPROCESSING_FN, materialize=False, disable_statistics=True,
        custom_config={"image_size": image_size})
    return DataComponents(example_gen, statistics_gen, schema_gen, example_validator, transform)


def create_pipeline(
    *,
    pipeline_name: str,
    pipeline_root: str,
    examples_uri: str,
    splits: Sequence[str],
    class_names: Sequence[str],
    schema_dir: str,
    serving_model_dir: str,
    model_name: str = configs.MODEL_NAME,
    epochs: int = configs.EPOCHS,
    batch_size: int = configs.BATCH_SIZE,
    learning_rate: float = configs.LEARNING_RATE,
    seed: int = configs.SEED,
    accuracy_floor: float = configs.ACCURACY_FLOOR,
    regression_tolerance: float = configs.REGRESSION_TOLERANCE,
    beam_pipeline_args: Optional[Sequence[str]] = None,
    metadata_connection_config: Optional[metadata_store_pb2.ConnectionConfig] = None,
    enable_cache: bool = True,
) -> tfx.dsl.Pipeline:
    """ImportExampleGen -> statistics, schema, validation -> Transform -> Trainer -> Evaluator -> Pusher (atomic).

    `examples_uri` is an ingested dataset directory (pipeline/ingestion.py); `class_names`
    its manifest's class list, in label-index order.
    """
    data = make_data_components(examples_uri, splits, schema_dir, models.get_spec(model_name).image_size)
    example_gen, schema_gen, transform = data.example_gen, data.schema_gen, data.transform

    trainer = tfx.components.Trainer(
        run_fn=configs.TRAINER_RUN_FN,
        examples=example_gen.outputs["examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        train_args=tfx.proto.TrainArgs(splits=["train"]),
        eval_args=tfx.proto.EvalArgs(splits=[EVAL_SPLIT]),
        custom_config={
            "class_names": list(class_names), "model_name": model_name, "epochs": epochs,
            "batch_size": batch_size, "learning_rate": learning_rate, "seed": seed,
        })

    model_resolver = tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    ).with_id("latest_blessed_model_resolver")

    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=model_resolver.outputs["model"],
        example_splits=[EVAL_SPLIT],
        eval_config=make_eval_config(accuracy_floor, regression_tolerance))

    pusher = atomic_pusher.AtomicPusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=serving_model_dir)),
    ).with_id("Pusher")

    return tfx.dsl.Pipeline(
        pipeline_name=pipeline_name,
        pipeline_root=pipeline_root,
        components=[*data, trainer, model_resolver, evaluator, pusher],
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=list(beam_pipeline_args or []),
    )
