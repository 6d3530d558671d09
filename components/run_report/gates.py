"""The quality gates as TFMA's validation result records them: the one reader of that result, used by
the run summary (run_summary.py) and the report's gate table (evaluation_results.py)."""
from __future__ import annotations

import dataclasses
from typing import Optional

from modules import features


@dataclasses.dataclass(frozen=True)
class Failure:
    """A threshold the candidate failed: on which metric, overall or for one class, by how much."""
    metric: str                 # TFMA's metric name
    is_change: bool             # a change threshold against the baseline, not a value threshold
    class_name: Optional[str]   # the label_name slice it failed on (that class's recall), None overall
    value: float
    threshold: str              # as a person reads it (threshold_text)

    def line(self) -> str:
        name = self.metric + (" (change vs. baseline)" if self.is_change else "")
        if self.class_name is not None:
            name = f"recall of class {self.class_name} ({name} on its {features.LABEL_NAME_KEY} slice)"
        return f"{name} = {self.value:.4f}, needs {self.threshold}"


def validation(evaluation_uri: Optional[str]):
    """The Evaluator's ValidationResult, or None when it wrote none (no thresholds configured)."""
    if not evaluation_uri:
        return None
    import tensorflow_model_analysis as tfma
    try:
        return tfma.load_validation_result(evaluation_uri)
    except OSError:
        return None


def failures(result) -> list[Failure]:
    """Every threshold a ValidationResult (or None) records as failed."""
    found = []
    for per_slice in result.metric_validations_per_slice if result else []:
        class_name = label_slice(per_slice.slice_key)
        for failure in per_slice.failures:
            found.append(Failure(failure.metric_key.name, failure.metric_key.is_diff, class_name,
                                 failure.metric_value.double_value.value, threshold_text(failure.metric_threshold)))
    return found


def label_slice(slice_key) -> Optional[str]:
    """The class of a label_name slice key, None for any other slice."""
    for single in slice_key.single_slice_keys:
        if single.column == features.LABEL_NAME_KEY:
            return single.bytes_value.decode()
    return None


def threshold_text(threshold) -> str:
    """A tfma MetricThreshold as the report writes it: '>= 0.4', '<= 0.1', 'a change >= -0.02'."""
    from tensorflow_model_analysis.proto import config_pb2
    if threshold.HasField("change_threshold"):
        change = threshold.change_threshold
        bound = change.absolute.value if change.HasField("absolute") else change.relative.value
        kind = "a change" if change.HasField("absolute") else "a relative change"
        higher = change.direction != config_pb2.MetricDirection.LOWER_IS_BETTER
        return f"{kind} {'>=' if higher else '<='} {bound:g}"
    bounds = threshold.value_threshold
    parts = ([f">= {bounds.lower_bound.value:g}"] if bounds.HasField("lower_bound") else []) + (
        [f"<= {bounds.upper_bound.value:g}"] if bounds.HasField("upper_bound") else [])
    return " and ".join(parts)
