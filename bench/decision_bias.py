"""A per-class decision bias (logit adjustment) fitted on out-of-fold probabilities: measured by nested
cross-validation, and written for the pipeline to ship (docs/recipe_cv.md, "Every class at 0.85?").

A bias b is added to the network's logits, so a class's score becomes log p_c + b_c before the arg-max:
it moves the decision boundaries between classes and nothing else (the Trainer folds it into the
softmax layer's bias: modules/decision_bias.py). It is fitted on the held-out probabilities that
bench/recipe_cv_cpu.py --probabilities writes:

    .venv/bin/python bench/recipe_cv_cpu.py --data-root ../shared/datasets/clothing-dataset-small \
        --recipe default '{}' --folds 5 --average-last-epoch --probabilities /tmp/oof.npz --output RESULTS.json
    .venv/bin/python bench/decision_bias.py /tmp/oof.npz [--floor 0.88 | --weakest] [--in-sample]
    .venv/bin/python bench/decision_bias.py /tmp/oof.npz --write modules/decision_biases/NAME.json \
        --results RESULTS.json --recipe default

Measured, each fold in turn is scored with the bias fitted on the other folds' images (the bias never
sees the images it is scored on); it prints each fold's accuracy and weakest recall, plain and biased,
the bias itself, and each class's recall with its paired gain. --write fits it on every fold's images
and writes it with the model and recipe it was fitted for (from the cross-validation's results file):
what the pipeline ships.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

from modules import decision_bias

# Coordinate ascent over this grid of values a class (softmax is unchanged by a shift common to all
# classes, so the bias is centred after each sweep). The range bounds how far one class's decision
# can move: half a unit of log-probability is a factor of 1.65 in odds.
GRID = np.round(np.arange(-1.0, 1.0001, 0.05), 2)
SWEEPS = 4
# The objective: accuracy, less the recall each class falls short of a floor by. At 0 it is accuracy
# alone; at 1, mostly balanced accuracy. The default sits a little over the 0.85 the default model is
# held to, so that a class fitted just to it does not fall back under it on new images.
FLOOR = 0.88


def recalls(scores: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    predicted = scores.argmax(-1)
    return np.array([(predicted[labels == c] == c).mean() for c in range(num_classes)])


def objective(scores: np.ndarray, labels: np.ndarray, num_classes: int, floor: float | None) -> float:
    """Accuracy less the recall each class falls short of `floor` by; with no floor, the weakest
    class's recall (accuracy only breaking ties)."""
    recall = recalls(scores, labels, num_classes)
    accuracy = float((scores.argmax(-1) == labels).mean())
    if floor is None:
        return float(recall.min()) + accuracy / 100
    return accuracy - float(np.clip(floor - recall, 0, None).sum())


def fit(log_probabilities: np.ndarray, labels: np.ndarray, floor: float | None = FLOOR) -> np.ndarray:
    """The bias [classes] that maximises `objective` on these images, by coordinate ascent from zero."""
    num_classes = log_probabilities.shape[1]
    bias = np.zeros(num_classes)
    best = objective(log_probabilities, labels, num_classes, floor)
    for _ in range(SWEEPS):
        moved = False
        for c in range(num_classes):
            for value in GRID:
                trial = bias.copy()
                trial[c] = value
                score = objective(log_probabilities + trial, labels, num_classes, floor)
                if score > best + 1e-9:
                    best, bias, moved = score, trial, True
        bias -= bias.mean()
        if not moved:
            break
    return bias


def read(path: Path, scoring: str):
    stored = np.load(path)
    done = stored["fold"] > 0
    log_probabilities = np.log(np.clip(stored[scoring][done], 1e-12, None))
    return log_probabilities, stored["labels"][done], stored["fold"][done], [str(n) for n in stored["class_names"]]


def evaluate(path: Path, scoring: str, floor: float | None, in_sample: bool = False) -> str:
    log_probabilities, labels, folds, class_names = read(path, scoring)
    num_classes = len(class_names)
    rows, plain_recall, biased_recall, gains = [], [], [], []
    for number in np.unique(folds):
        held = folds == number
        fitted_on = held if in_sample else ~held
        bias = fit(log_probabilities[fitted_on], labels[fitted_on], floor)
        plain, biased = log_probabilities[held], log_probabilities[held] + bias
        accuracy = [(s.argmax(-1) == labels[held]).mean() for s in (plain, biased)]
        plain_recall.append(recalls(plain, labels[held], num_classes))
        biased_recall.append(recalls(biased, labels[held], num_classes))
        gains.append(accuracy[1] - accuracy[0])
        rows.append(f"| {number} | {accuracy[0]:.4f} | {accuracy[1]:.4f} | {min(plain_recall[-1]):.3f} | "
                    f"{min(biased_recall[-1]):.3f} | {' '.join(f'{b:+.2f}' for b in bias)} |")
    gains = np.array(gains) * 100
    spread = gains.std(ddof=1) / np.sqrt(len(gains)) if len(gains) > 1 else float("nan")
    fitted = "on the fold it is scored on (in sample: a bound, not an estimate)" if in_sample else "on the other folds"
    objective_name = "the weakest recall" if floor is None else f"floor {floor}"
    lines = [f"{path.name}, scored {scoring}, {objective_name}: the bias fitted {fitted}, scored on each fold",
             "", "| fold | accuracy | biased | weakest recall | biased | bias (" + ", ".join(class_names) + ") |",
             "|---|---|---|---|---|---|", *rows,
             "", f"paired accuracy gain: {gains.mean():+.2f} ± {spread:.2f} points (folds: "
             + ", ".join(f"{g:+.2f}" for g in gains) + ")", "",
             "| class | recall | biased | paired gain (points) | folds under 0.85: plain | biased |",
             "|---|---|---|---|---|---|"]
    plain_recall, biased_recall = np.array(plain_recall), np.array(biased_recall)
    for c, name in enumerate(class_names):
        lines.append(f"| {name} | {plain_recall[:, c].mean():.3f} | {biased_recall[:, c].mean():.3f} | "
                     f"{(biased_recall[:, c] - plain_recall[:, c]).mean() * 100:+.1f} | "
                     f"{(plain_recall[:, c] < 0.85).sum()} | {(biased_recall[:, c] < 0.85).sum()} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("probabilities", type=Path, help="a .npz of bench/recipe_cv_cpu.py --probabilities")
    parser.add_argument("--scoring", default="plain", help="which weights' probabilities: plain or averaged")
    parser.add_argument("--floor", type=float, default=FLOOR,
                        help="the recall under which a class costs the objective what it falls short by")
    parser.add_argument("--weakest", action="store_true", help="fit to the weakest class's recall instead")
    parser.add_argument("--in-sample", action="store_true",
                        help="fit each fold's bias on that fold's own images: how far a bias could go at best")
    parser.add_argument("--write", type=Path, help="fit on every fold's images and write the bias to this JSON file")
    parser.add_argument("--results", type=Path, help="with --write: the cross-validation's results file")
    parser.add_argument("--recipe", help="with --write: the recipe's name in --results")
    args = parser.parse_args()
    floor = None if args.weakest else args.floor
    if not args.write:
        print(evaluate(args.probabilities, args.scoring, floor, args.in_sample))
        return 0
    if not (args.results and args.recipe):
        parser.error("--write needs --results and --recipe")
    config = json.loads(args.results.read_text())[args.recipe]["config"]
    log_probabilities, labels, folds, class_names = read(args.probabilities, args.scoring)
    bias = fit(log_probabilities, labels, floor)
    objective = "the weakest recall" if floor is None else f"floor {floor}"
    decision_bias.write(args.write, class_names, bias, config["model_name"], config["recipe"],
                        f"{len(labels)} out-of-fold images of {len(np.unique(folds))} folds "
                        f"({args.probabilities.name}, {args.scoring}, {objective}), bench/decision_bias.py")
    print(f"decision bias for {len(class_names)} classes written to {args.write}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
