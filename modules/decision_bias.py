"""Per-class decision biases: values added to the network's logits before the softmax, fitted by
cross-validation on out-of-fold predictions (bench/decision_bias.py), so that the decision between
classes the network confuses (longsleeve against shirt, t-shirt and outwear) is drawn where held-out
images put it (docs/recipe_cv.md, "Every class at 0.85?").

A bias is fitted for one model, one recipe and one class list: the pipeline ships those fitted here,
a JSON file each in modules/decision_biases/ (`write` writes one, `shipped` reads them), and the
Trainer folds in the one whose classes, model and recipe are its own (none otherwise: other data,
another model or recipe, or --no-decision-bias). Folded into the softmax layer's own bias, it is
inside every artefact the Trainer exports (both SavedModel signatures, the TensorFlow Lite model)
and so in what the Evaluator scores. No TensorFlow here: the Trainer folds it.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Optional, Sequence

FOLDER = Path(__file__).parent / "decision_biases"


@dataclasses.dataclass(frozen=True)
class DecisionBias:
    bias: tuple  # a value a class, in the class list's order
    source: str  # the file it came from, for the logs and history.json


def write(path: Path, class_names: Sequence[str], bias: Sequence[float], model_name: str, recipe: dict,
          fitted_on: str) -> None:
    """Writes the bias fitted for `class_names`, `model_name` and the whole `recipe`, saying what it
    was fitted on."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"class_names": list(class_names), "bias": [round(float(b), 4) for b in bias],
                                "model_name": model_name, "recipe": recipe, "fitted_on": fitted_on}, indent=1) + "\n")


def shipped(class_names: Sequence[str], model_name: str, recipe: dict) -> Optional[DecisionBias]:
    """The bias shipped for these classes, this model and this (whole) recipe, or None."""
    for path in sorted(FOLDER.glob("*.json")):
        entry = json.loads(path.read_text())
        if (entry["class_names"], entry["model_name"], entry["recipe"]) == (list(class_names), model_name, recipe):
            return DecisionBias(tuple(float(b) for b in entry["bias"]), f"modules/decision_biases/{path.name}")
    return None
