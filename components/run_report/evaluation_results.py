"""The Evaluator's output read back as plain numbers: metrics overall and per class, the
baseline's, the confusion matrix, calibration, and every quality gate with its value and threshold."""
from __future__ import annotations

import dataclasses
import math
from typing import Optional, Sequence

import numpy as np

from components import ids
from components.run_report import gates
from modules import features

BASELINE = "baseline"  # the model name TFX's Evaluator gives the baseline: the newest pushed version
MACRO_F1 = "macro_f1"


@dataclasses.dataclass
class Gate:
    metric: str       # e.g. "sparse_categorical_accuracy", "recall of class skirt"
    kind: str         # "value" or "change vs. baseline"
    value: Optional[float]  # None when the gate could not be evaluated (no baseline yet)
    threshold: str    # e.g. ">= 0.6"
    passed: Optional[bool]  # None: skipped


@dataclasses.dataclass
class Evaluation:
    class_names: list
    overall: dict                 # metric name -> candidate's value on the whole eval split
    baseline: dict                # metric name -> baseline's value ({} on a first run)
    per_class: dict               # class name -> {precision, recall, f1_score, accuracy, example_count}
    confusion_matrix: np.ndarray  # [actual, predicted] counts
    calibration: dict             # class name -> [(mean predicted, observed frequency, count)] per bucket
    gates: list[Gate]
    validation_ok: Optional[bool]
    # (image property, value) -> {example_count, accuracy} (features.SLICE_KEYS; {} for older runs)
    slices: dict = dataclasses.field(default_factory=dict)

    def weakest_slices(self, count: int = 3) -> list:
        """The `count` image-property slices with the lowest accuracy: [((property, value), metrics)]."""
        scored = [(key, m) for key, m in self.slices.items() if m.get("accuracy") is not None]
        return sorted(scored, key=lambda item: (item[1]["accuracy"], -item[1].get("example_count", 0)))[:count]

    @property
    def failed_gates(self) -> list[Gate]:
        return [g for g in self.gates if g.passed is False]


def of_run(run) -> Optional[Evaluation]:
    """The Evaluation of a run_summary.RunRecord, with the EvalConfig its Evaluator ran; None if it has none."""
    from components.run_report import run_summary
    artifact = run.output(ids.EVALUATOR, "evaluation")
    if artifact is None:
        return None
    return load(artifact.uri, run.eval_config(), run_summary.class_names(run),
                run_summary.property_value(artifact, ids.BASELINE_REFUSED))


def load(evaluation_uri: str, eval_config_json: str, class_names: Sequence[str],
         baseline_refused: Optional[str] = None) -> Evaluation:
    """The Evaluator's output at `evaluation_uri` (metrics, plots, validation result) as an
    Evaluation, given the EvalConfig it ran with (JSON), the class list in label order and, if the
    Evaluator dropped the serving model as a baseline, why (components/evaluator.py)."""
    import tensorflow_model_analysis as tfma
    from google.protobuf import json_format
    class_names = list(class_names)
    overall, baseline, per_class, slices = {}, {}, {name: {} for name in class_names}, {}
    for metrics_for_slice in tfma.load_metrics(evaluation_uri):
        label_name = gates.label_slice(metrics_for_slice.slice_key)
        property_slice = _property_slice(metrics_for_slice.slice_key)
        for item in metrics_for_slice.metric_keys_and_values:
            key, value = item.key, _metric_value(item.value)
            if key.is_diff or value is None:
                continue
            is_baseline = key.model_name == BASELINE
            if property_slice is not None:  # an image property's slice: the candidate's figures on it
                if not is_baseline and not key.HasField("sub_key"):
                    slices.setdefault(property_slice, {})[_short(key.name)] = value
            elif label_name is not None:  # a label_name slice: that class's own examples
                if not is_baseline and not key.HasField("sub_key"):
                    per_class.setdefault(label_name, {})[_short(key.name)] = value
            elif key.sub_key.HasField("class_id"):
                if not is_baseline:
                    per_class[class_names[key.sub_key.class_id.value]][key.name] = value
            else:
                (baseline if is_baseline else overall)[key.name] = value

    confusion, calibration = np.zeros((len(class_names),) * 2, dtype=int), {}
    for plots_for_slice in tfma.load_plots(evaluation_uri):
        if plots_for_slice.slice_key.single_slice_keys:
            continue
        for item in plots_for_slice.plot_keys_and_values:
            if item.key.model_name == BASELINE:
                continue
            if item.value.HasField("multi_class_confusion_matrix_at_thresholds"):
                for entry in item.value.multi_class_confusion_matrix_at_thresholds.matrices[0].entries:
                    confusion[entry.actual_class_id, entry.predicted_class_id] = round(entry.num_weighted_examples)
            if item.value.HasField("calibration_histogram_buckets") and item.key.sub_key.HasField("class_id"):
                calibration[class_names[item.key.sub_key.class_id.value]] = [
                    (b.total_weighted_refined_prediction.value / b.num_weighted_examples.value,
                     b.total_weighted_label.value / b.num_weighted_examples.value, b.num_weighted_examples.value)
                    for b in item.value.calibration_histogram_buckets.buckets if b.num_weighted_examples.value > 0]

    eval_config = json_format.Parse(eval_config_json, tfma.EvalConfig())
    validation = gates.validation(evaluation_uri)
    validation_ok = validation.validation_ok if validation else None
    overall[MACRO_F1] = macro_f1(per_class)
    no_baseline = f"no baseline: {baseline_refused}" if baseline_refused else "nothing pushed yet"
    gate_rows = list(_gates(eval_config, overall, baseline, per_class, class_names, _failures(validation), no_baseline))
    return Evaluation(class_names, overall, baseline, per_class, confusion, calibration, gate_rows, validation_ok,
                      dict(sorted(slices.items())))


def macro_f1(per_class: dict) -> Optional[float]:
    """Unweighted mean F1 over the classes that have eval examples (0 for a class never predicted)."""
    scores = [m.get("f1_score", 0.0) for m in per_class.values() if m.get("example_count")]
    return float(np.mean(scores)) if scores else None


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = 10) -> float:
    """Top-label ECE: the gap between confidence and accuracy, averaged over confidence bins."""
    confidence, correct = probabilities.max(axis=1), probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    error = 0.0
    for low, high in zip(edges[:-1], edges[1:]):
        in_bin = (confidence > low) & (confidence <= high)
        if in_bin.any():
            error += in_bin.mean() * abs(confidence[in_bin].mean() - correct[in_bin].mean())
    return float(error)


def _failures(validation) -> set:
    """(metric name, is a change, class name or None) of every threshold TFMA's validation failed."""
    return {(f.metric, f.is_change, f.class_name) for f in gates.failures(validation)}


def _gates(eval_config, overall: dict, baseline: dict, per_class: dict, class_names: list, failures: set,
           no_baseline: str):
    """Every threshold in the config, with the value it was compared with; whether it passed is TFMA's
    verdict (its validation result), never recomputed here."""
    for spec in eval_config.metrics_specs:
        for metric in spec.metrics:
            name = _metric_name(metric.class_name)
            for per_slice in metric.per_slice_thresholds:
                by_class = any(s.feature_keys for s in per_slice.slicing_specs)
                threshold = per_slice.threshold
                if threshold.HasField("value_threshold"):
                    bound = threshold.value_threshold.lower_bound.value
                    if by_class:  # accuracy on a class's own examples: its recall
                        for class_name in class_names:
                            value = per_class[class_name].get(_short(name))
                            yield Gate(f"recall of class {class_name}", "value", value, f">= {bound:g}",
                                       (name, False, class_name) not in failures)
                    else:
                        yield Gate(name, "value", overall.get(name), f">= {bound:g}",
                                   (name, False, None) not in failures)
                if threshold.HasField("change_threshold"):
                    bound = threshold.change_threshold.absolute.value
                    if name in baseline:
                        yield Gate(name, "change vs. baseline", overall[name] - baseline[name], f">= {bound:g}",
                                   (name, True, None) not in failures)
                    else:
                        yield Gate(name, "change vs. baseline", None, f">= {bound:g} ({no_baseline})", None)


# TFMA metric class -> the name its values are stored under.
_METRIC_NAMES = {"SparseCategoricalAccuracy": "sparse_categorical_accuracy", "Precision": "precision",
                 "Recall": "recall", "F1Score": "f1_score", "ExampleCount": "example_count"}


def _metric_name(class_name: str) -> str:
    return _METRIC_NAMES.get(class_name, class_name)


def _short(name: str) -> str:
    return "accuracy" if name == "sparse_categorical_accuracy" else name


def _property_slice(slice_key) -> Optional[tuple]:
    """(feature, value) of a slice on one of features.SLICE_KEYS, None for any other slice."""
    for single in slice_key.single_slice_keys:
        if single.column in features.SLICE_KEYS:
            return single.column, single.bytes_value.decode()
    return None


def _metric_value(value) -> Optional[float]:
    if value.HasField("double_value"):
        number = value.double_value.value
    elif value.HasField("bounded_value"):
        number = value.bounded_value.value.value
    else:
        return None
    return None if math.isnan(number) else number
