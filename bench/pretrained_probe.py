"""How good are the frozen ImageNet EfficientNet-Lite features on a dataset? A linear probe:
pooled features of every image (resized to each backbone's own resolution, or --size), a
logistic regression fitted on train and scored on validation, then the same probe in stratified
5-fold cross-validation over train + validation (seed 111). The folds are the same for every
backbone, so their difference is paired, and a fold's 680 images separate backbones that the
341 validation images cannot. A floor for what fine-tuning a backbone should beat.

    .venv/bin/python bench/pretrained_probe.py --data-root ../shared/datasets/clothing-dataset-small \
        [--backbones efficientnet_lite0 efficientnet_lite2] [--size 224]
"""
import argparse
import json
import sys
import time
from pathlib import Path


from modules import settings

FOLDS = 5


def load_split(folder: Path, size: int, class_names: list):
    import numpy as np
    from PIL import Image
    images, labels = [], []
    for label, name in enumerate(class_names):
        for path in sorted((folder / name).glob("*.jpg")):
            images.append(np.asarray(Image.open(path).convert("RGB").resize((size, size), Image.BILINEAR),
                                     np.float32) / 255)
            labels.append(label)
    return np.stack(images), np.array(labels)


def probe(train_features, train_labels, features, class_weight=None):
    from sklearn import linear_model
    model = linear_model.LogisticRegression(max_iter=3000, C=0.5, class_weight=class_weight)
    return model.fit(train_features, train_labels).predict(features)


def backbone_features(name: str, size: int, data_root: Path, class_names: list) -> dict:
    from modules import efficientnet_lite
    model = efficientnet_lite.imagenet_model(size, variant=efficientnet_lite.VARIANTS[name])
    features = {}
    for split in ("train", "validation"):
        images, labels = load_split(data_root / split, size, class_names)
        features[split] = (model.predict(images, batch_size=32, verbose=0), labels)
    return features


def validation_report(features: dict, class_names: list) -> dict:
    from sklearn import metrics
    truth, report = features["validation"][1], {}
    for class_weight in (None, "balanced"):
        predicted = probe(*features["train"], features["validation"][0], class_weight)
        recall = metrics.recall_score(truth, predicted, average=None)
        report[f"class_weight={class_weight or 'none'}"] = {
            "validation_accuracy": round(float(metrics.accuracy_score(truth, predicted)), 4),
            "macro_f1": round(float(metrics.f1_score(truth, predicted, average="macro")), 4),
            "recall_per_class": {name: round(float(r), 3) for name, r in zip(class_names, recall)},
        }
    return report


def fold_accuracies(features: dict):
    """Accuracy of the probe on each of the FOLDS folds of train + validation."""
    import numpy as np
    from sklearn import model_selection
    x = np.concatenate([features["train"][0], features["validation"][0]])
    y = np.concatenate([features["train"][1], features["validation"][1]])
    folds = model_selection.StratifiedKFold(FOLDS, shuffle=True, random_state=settings.Training().seed)
    return np.array([(probe(x[fit], y[fit], x[held]) == y[held]).mean() for fit, held in folds.split(x, y)])


def main() -> int:
    from modules import efficientnet_lite
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, required=True)
    parser.add_argument("--backbones", nargs="+", default=["efficientnet_lite0"],
                        choices=sorted(efficientnet_lite.VARIANTS))
    parser.add_argument("--size", type=int, help="input pixels (default: each backbone's own)")
    args = parser.parse_args()
    import numpy as np

    class_names = sorted(p.name for p in (args.data_root / "train").iterdir() if p.is_dir())
    reports, baseline = {}, None
    for name in args.backbones:
        size = args.size or efficientnet_lite.VARIANTS[name].image_size
        started = time.time()
        features = backbone_features(name, size, args.data_root, class_names)
        report = {"size": size, "feature_seconds": round(time.time() - started, 1),
                  **validation_report(features, class_names)}
        folds = fold_accuracies(features)
        report["cv_accuracy"] = round(float(folds.mean()), 4)
        report["cv_fold_accuracies"] = [round(float(a), 4) for a in folds]
        if baseline is None:
            baseline = folds
        else:  # paired over the same folds: mean gain and its standard error, in points
            gain = (folds - baseline) * 100
            report[f"cv_gain_vs_{args.backbones[0]}"] = (
                f"{gain.mean():+.2f} ± {gain.std(ddof=1) / np.sqrt(len(gain)):.2f}")
        reports[name] = report
        print(f"{name}: validation {report['class_weight=none']['validation_accuracy']}, "
              f"{FOLDS}-fold CV {report['cv_accuracy']}", file=sys.stderr, flush=True)
    print(json.dumps(reports, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
