"""A per-class decision bias (logit adjustment) fitted on out-of-fold probabilities, measured by nested
cross-validation, and written for the pipeline (docs/recipe_cv.md, "Every class over 0.85").

The bias b is added to the network's logits, so a class's score becomes log p_c + b_c before the
arg-max: it moves the decision boundaries between classes and nothing else (modules/decision_bias.py
folds it into the softmax layer's bias, inside the serving graph). It is fitted on the held-out
probabilities that bench/recipe_cv_cpu.py --probabilities writes:

    .venv/bin/python bench/recipe_cv_cpu.py --data-root ../shared/datasets/clothing-dataset-small \
        --recipe default '{}' --folds 5 --average-last-epoch --probabilities /tmp/oof.npz --output ...
    .venv/bin/python bench/decision_bias.py evaluate /tmp/oof.npz    # nested: is it worth having?
    .venv/bin/python bench/decision_bias.py fit /tmp/oof.npz --results RESULTS.json --recipe default \
        --output modules/decision_biases/NAME.json

`evaluate` fits the bias on the other folds' images and scores it on each fold in turn (the bias never
sees the images it is scored on), and prints each fold's accuracy and recall per class, plain and
biased, with the paired gains. `fit` fits it on every fold's images and writes it with the model and
the recipe it was fitted for (from the cross-validation's results file): what the pipeline ships.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

# Coordinate ascent over this grid of values a class (softmax is unchanged by a shift common to all
# classes, so the bias is centred after each sweep). The range bounds how far one class's decision
# can move: half a unit of log-probability is a factor of 1.65 in odds.
GRID = np.round(np.arange(-1.0, 1.0001, 0.05), 2)
SWEEPS = 4
# The objective: accuracy, less the recall each class falls short of FLOOR by. The floor sits a little
# over the 0.85 the default model is held to, so that a class fitted just to it does not fall back
# under it on new images.
FLOOR = 0.88


def recalls(scores: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    predicted = scores.argmax(-1)
    return np.array([(predicted[labels == c] == c).mean() for c in range(num_classes)])


def objective(scores: np.ndarray, labels: np.ndarray, num_classes: int) -> float:
    recall = recalls(scores, labels, num_classes)
    return float((scores.argmax(-1) == labels).mean() - np.clip(FLOOR - recall, 0, None).sum())


def fit(log_probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The bias [classes] that maximises `objective` on these images, by coordinate ascent from zero."""
    num_classes = log_probabilities.shape[1]
    bias = np.zeros(num_classes)
    best = objective(log_probabilities, labels, num_classes)
    for _ in range(SWEEPS):
        moved = False
        for c in range(num_classes):
            for value in GRID:
                trial = bias.copy()
                trial[c] = value
                score = objective(log_probabilities + trial, labels, num_classes)
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


def evaluate(path: Path, scoring: str) -> str:
    log_probabilities, labels, folds, class_names = read(path, scoring)
    num_classes = len(class_names)
    rows, plain_recall, biased_recall, gains = [], [], [], []
    for number in np.unique(folds):
        held = folds == number
        bias = fit(log_probabilities[~held], labels[~held])
        plain, biased = log_probabilities[held], log_probabilities[held] + bias
        accuracy = [(s.argmax(-1) == labels[held]).mean() for s in (plain, biased)]
        plain_recall.append(recalls(plain, labels[held], num_classes))
        biased_recall.append(recalls(biased, labels[held], num_classes))
        gains.append(accuracy[1] - accuracy[0])
        rows.append(f"| {number} | {accuracy[0]:.4f} | {accuracy[1]:.4f} | {min(plain_recall[-1]):.3f} | "
                    f"{min(biased_recall[-1]):.3f} | {' '.join(f'{b:+.2f}' for b in bias)} |")
    gains = np.array(gains) * 100
    spread = gains.std(ddof=1) / np.sqrt(len(gains)) if len(gains) > 1 else float("nan")
    lines = [f"{path.name}, scored {scoring}: the bias fitted on the other folds, scored on each fold",
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
    parser.add_argument("command", choices=("evaluate", "fit"))
    parser.add_argument("probabilities", type=Path, help="a .npz of bench/recipe_cv_cpu.py --probabilities")
    parser.add_argument("--scoring", default="plain", help="which weights' probabilities: plain or averaged")
    parser.add_argument("--results", type=Path, help="fit: the cross-validation's results file (its config)")
    parser.add_argument("--recipe", help="fit: the recipe's name in --results")
    parser.add_argument("--output", type=Path, help="fit: the JSON file the bias goes to")
    args = parser.parse_args()
    if args.command == "evaluate":
        print(evaluate(args.probabilities, args.scoring))
        return 0
    if not (args.output and args.results and args.recipe):
        parser.error("fit needs --results, --recipe and --output")
    config = json.loads(args.results.read_text())[args.recipe]["config"]
    log_probabilities, labels, folds, class_names = read(args.probabilities, args.scoring)
    bias = fit(log_probabilities, labels)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({
        "class_names": class_names, "bias": [round(float(b), 4) for b in bias],
        "model_name": config["model_name"], "recipe": config["recipe"],
        "fitted_on": f"{len(labels)} out-of-fold images of {len(np.unique(folds))} folds ({args.probabilities.name}, "
                     f"{args.scoring}), bench/decision_bias.py"}, indent=1) + "\n")
    print(f"decision bias for {len(class_names)} classes written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
