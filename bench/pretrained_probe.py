"""How good are the frozen ImageNet EfficientNet-Lite0 features on a dataset? A linear probe:
pooled features of every image (resized to --size), a logistic regression fitted on train,
scored on validation, once unweighted and once with balanced class weights. A floor for what
fine-tuning the backbone should beat.

    .venv/bin/python bench/pretrained_probe.py --data-root ../shared/datasets/clothing-dataset-small
"""
import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline import configs  # pylint: disable=wrong-import-position,unused-import  # first: picks the Keras flavour


def load_split(folder: Path, size: int, class_names: list):
    import numpy as np  # pylint: disable=g-import-not-at-top
    from PIL import Image  # pylint: disable=g-import-not-at-top
    images, labels = [], []
    for label, name in enumerate(class_names):
        for path in sorted((folder / name).glob("*.jpg")):
            images.append(np.asarray(Image.open(path).convert("RGB").resize((size, size), Image.BILINEAR),
                                     np.float32) / 255)
            labels.append(label)
    return np.stack(images), np.array(labels)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, required=True)
    parser.add_argument("--size", type=int, default=224)
    args = parser.parse_args()
    from sklearn import linear_model, metrics  # pylint: disable=g-import-not-at-top
    from modules import efficientnet_lite  # pylint: disable=g-import-not-at-top

    class_names = sorted(p.name for p in (args.data_root / "train").iterdir() if p.is_dir())
    model = efficientnet_lite.imagenet_model(args.size)
    started = time.time()
    features = {}
    for split in ("train", "validation"):
        images, labels = load_split(args.data_root / split, args.size, class_names)
        features[split] = (model.predict(images, batch_size=32, verbose=0), labels)
    feature_seconds = time.time() - started
    truth = features["validation"][1]
    report = {"size": args.size, "train_images": len(features["train"][1]), "validation_images": len(truth),
              "feature_seconds": round(feature_seconds, 1)}
    for class_weight in (None, "balanced"):
        probe = linear_model.LogisticRegression(max_iter=3000, C=0.5, class_weight=class_weight)
        predicted = probe.fit(*features["train"]).predict(features["validation"][0])
        recall = metrics.recall_score(truth, predicted, average=None)
        report[f"class_weight={class_weight or 'none'}"] = {
            "validation_accuracy": round(float(metrics.accuracy_score(truth, predicted)), 4),
            "macro_f1": round(float(metrics.f1_score(truth, predicted, average="macro")), 4),
            "recall_per_class": {name: round(float(r), 3) for name, r in zip(class_names, recall)},
        }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
