"""The TFX pipeline, as a pure function of its parameters (no environment is read here)."""
from __future__ import annotations

from typing import NamedTuple, Optional, Sequence

import tensorflow_model_analysis as tfma
from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx
from tfx.utils import proto_utils

from components import atomic_pusher, evaluator as evaluator_component, ids
from components.image_example_gen.component import ImageExampleGen
from components.latest_pushed_model.component import LatestPushedModel
from components.run_report.component import RunReport
from modules import features
from modules import registry
from modules import settings as run_settings
from pipeline import configs

EVAL_SPLIT = "eval"


ARGMAX = '{"top_k": 1, "thresholds": [0.0]}'  # precision/recall of the arg-max class (docs/evaluation.md)


def make_eval_config(num_classes: int, gates: run_settings.Gates) -> tfma.EvalConfig:
    """Overall and per-class (label_name slices) metrics, and the quality gates.

    Gates: overall accuracy >= gates.accuracy_floor; no more than gates.regression_tolerance below
    the model serving now (skipped on the first run, when there is none); the recall of every
    class >= gates.class_recall_floor. A class's recall is the accuracy on its own label_name slice,
    which TFMA gates exactly; its binarized Recall metric cannot carry a threshold (the
    threshold's key lacks the top_k that the computed key has: "Metric not found"). Gates sit in
    per_slice_thresholds: a plain `threshold` would apply to every slice.
    """
    overall = tfma.SlicingSpec()
    per_class = tfma.SlicingSpec(feature_keys=[features.LABEL_NAME_KEY])

    accuracy_gates = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": gates.accuracy_floor}),
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER,
            absolute={"value": -gates.regression_tolerance}))
    recall_gate = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": gates.class_recall_floor}))
    every_class = tfma.BinarizationOptions(class_ids={"values": list(range(num_classes))})
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(label_key=features.LABEL_KEY, signature_name="serving_default",
                                    prediction_key="probabilities")],
        # Image properties recorded at ingestion (features.SLICE_KEYS): where the model fails beyond
        # the class. Reported, never gated.
        slicing_specs=[overall, per_class, *(tfma.SlicingSpec(feature_keys=[key]) for key in features.SLICE_KEYS)],
        metrics_specs=[
            tfma.MetricsSpec(metrics=[
                tfma.MetricConfig(class_name="ExampleCount"),
                tfma.MetricConfig(class_name="SparseCategoricalAccuracy", per_slice_thresholds=[
                    tfma.PerSliceMetricThreshold(slicing_specs=[overall], threshold=accuracy_gates),
                    tfma.PerSliceMetricThreshold(slicing_specs=[per_class], threshold=recall_gate)]),
                tfma.MetricConfig(class_name="MultiClassConfusionMatrixPlot"),
            ]),
            # Per class (one-vs-rest sub-keys class_id:0..n-1): arg-max precision, recall and F1,
            # and a calibration plot of that class's probability. TFMA 0.47's macro average of
            # these fails (its child keys drop the top_k), so components/run_report/evaluation_results.py
            # averages the per-class F1 itself.
            tfma.MetricsSpec(binarize=every_class, metrics=[
                tfma.MetricConfig(class_name="Precision", config=ARGMAX),
                tfma.MetricConfig(class_name="Recall", config=ARGMAX),
                tfma.MetricConfig(class_name="F1Score", config=ARGMAX),
                tfma.MetricConfig(class_name="CalibrationPlot", config='{"num_buckets": 10}'),
            ]),
        ])


class DataComponents(NamedTuple):
    example_gen: ImageExampleGen
    statistics_gen: tfx.components.StatisticsGen
    schema_gen: tfx.components.ImportSchemaGen
    example_validator: tfx.components.ExampleValidator
    transform: tfx.components.Transform


def make_data_components(data_root: str, splits: Sequence[str], schema_dir: str, image_size: int) -> DataComponents:
    """The pipeline's data steps, from the image folders to the Transform graph (bench/scale.py runs them alone).

    `splits` are the split names to read (train, eval and optionally test), each from its folder
    in components/image_example_gen/layout.py's SPLIT_FOLDERS.
    """
    from components.image_example_gen import layout
    example_gen = ImageExampleGen(data_root, {split: layout.SPLIT_FOLDERS[split] for split in splits}).with_id(
        ids.IMAGE_EXAMPLE_GEN)
    examples = example_gen.outputs["examples"]
    schema_gen = tfx.components.ImportSchemaGen(schema_file=f"{schema_dir}/schema.pbtxt").with_id(ids.SCHEMA_GEN)
    # The schema marks image_raw as an image, which keeps StatisticsGen's memory flat (schema.pbtxt).
    statistics_gen = tfx.components.StatisticsGen(
        examples=examples, schema=schema_gen.outputs["schema"]).with_id(ids.STATISTICS_GEN)
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]).with_id(
        ids.EXAMPLE_VALIDATOR)
    # Decoded float images are ~7x larger than the JPEGs and slower to read back than to
    # decode again, so Transform only records the graph; the Trainer applies it. Its own
    # statistics would repeat StatisticsGen's before the transform and, after it, profile
    # every pixel float of every image at the cost of decoding every image once more.
    transform = tfx.components.Transform(
        examples=examples, schema=schema_gen.outputs["schema"],
        preprocessing_fn=configs.PREPROCESSING_FN, materialize=False, disable_statistics=True,
        custom_config={"image_size": image_size}).with_id(ids.TRANSFORM)
    return DataComponents(example_gen, statistics_gen, schema_gen, example_validator, transform)


def create_pipeline(
    *,
    pipeline_name: str,
    pipeline_root: str,
    data_root: str,
    splits: Sequence[str],
    class_names: Sequence[str],
    schema_dir: str,
    serving_model_dir: str,
    settings: run_settings.Settings = run_settings.Settings(),
    beam_pipeline_args: Optional[Sequence[str]] = None,
    metadata_connection_config: Optional[metadata_store_pb2.ConnectionConfig] = None,
    enable_cache: bool = True,
) -> tfx.dsl.Pipeline:
    """Image folders -> ImageExampleGen -> statistics, schema, validation -> Transform -> Trainer ->
    Evaluator (baseline: LatestPushedModel) -> Pusher (atomic).

    `data_root` holds train/ and validation/ (and test/ when `splits` has it) of class
    subfolders, on any tf.io.gfile filesystem; `class_names` are its train classes, in
    label-index order (sorted folder names, as ingestion numbers them). `settings` (modules/settings.py)
    go to the Trainer and Tuner as their custom_config, resolved, and to the Evaluator as its gates.
    """
    image_size = registry.get_spec(settings.training.model_name).image_size
    data = make_data_components(data_root, splits, schema_dir, image_size)
    examples, schema_gen, transform = data.example_gen.outputs["examples"], data.schema_gen, data.transform
    tuner = None
    if settings.tuning:
        # Its search uses the training split alone (modules/tuner.py).
        tuner = tfx.components.Tuner(
            tuner_fn=configs.TUNER_FN, examples=examples, transform_graph=transform.outputs["transform_graph"],
            schema=schema_gen.outputs["schema"], train_args=tfx.proto.TrainArgs(splits=["train"]),
            eval_args=tfx.proto.EvalArgs(splits=["train"]),
            custom_config=run_settings.to_custom_config(settings.training, class_names, settings.tuning)
        ).with_id(ids.TUNER)

    trainer = tfx.components.Trainer(
        run_fn=configs.TRAINER_RUN_FN,
        examples=examples,
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        hyperparameters=tuner.outputs["best_hyperparameters"] if tuner else None,
        train_args=tfx.proto.TrainArgs(splits=["train"]),
        eval_args=tfx.proto.EvalArgs(splits=[EVAL_SPLIT]),
        custom_config=run_settings.to_custom_config(settings.training, class_names)).with_id(ids.TRAINER)

    # The model serving now: the one a candidate must not fall behind.
    baseline = LatestPushedModel(serving_model_dir=serving_model_dir).with_id(ids.BASELINE)

    eval_config = make_eval_config(len(class_names), settings.gates)
    evaluator = evaluator_component.Evaluator(
        examples=examples,
        model=trainer.outputs["model"],
        baseline_model=baseline.outputs["model"],
        example_splits=[EVAL_SPLIT],
        eval_config=eval_config).with_id(ids.EVALUATOR)

    pusher = atomic_pusher.AtomicPusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=serving_model_dir)),
        custom_config={atomic_pusher.REPLACE_CLASS_LIST: settings.gates.replace_class_list},
    ).with_id(ids.PUSHER)

    # Last: the run's HTML report, from the artifacts above (no ML Metadata store needed).
    report = RunReport(
        pipeline_name=pipeline_name, eval_config_json=proto_utils.proto_to_json(eval_config),
        examples=examples, statistics=data.statistics_gen.outputs["statistics"],
        anomalies=data.example_validator.outputs["anomalies"], model=trainer.outputs["model"],
        model_run=trainer.outputs["model_run"], evaluation=evaluator.outputs["evaluation"],
        blessing=evaluator.outputs["blessing"], pushed_model=pusher.outputs["pushed_model"]).with_id(ids.RUN_REPORT)

    return tfx.dsl.Pipeline(
        pipeline_name=pipeline_name,
        pipeline_root=pipeline_root,
        components=[*data, *([tuner] if tuner else []), trainer, baseline, evaluator, pusher, report],
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=list(beam_pipeline_args or []),
    )
