"""Compares recipes for the default model by stratified k-fold cross-validation over train +
validation, on CPU, with the pipeline's own Keras model and training code: the table that chose
the default recipe of efficientnet_lite1 (docs/recipe_cv.md, "efficientnet_lite1 on CPU").

A PyTorch port did the same for Lite0 on a GPU, five folds a recipe (docs/recipe_cv.md). This one
needs nothing the pipeline's lock file lacks, at the price of CPU time: at 3 folds, a fold of the
default recipe (7 frozen blocks, 5 epochs) trains 8 to 10 minutes on 2 cores, so a recipe takes
about half an hour; 5 folds (--folds 5) took 34 minutes for the default. Each recipe runs
in its own process, over the same folds (seed 111), so recipes are compared fold by fold:

    .venv/bin/python bench/recipe_cv_cpu.py --data-root ../shared/datasets/clothing-dataset-small \
        --recipe default '{}' --output docs/recipe_cv_lite1.json
    .venv/bin/python bench/recipe_cv_cpu.py ... --recipe label_smoothing_0.1 '{"label_smoothing": 0.1}' ...
    .venv/bin/python bench/recipe_cv_cpu.py ... --recipe flip_average '{}' --flip-average ...
    .venv/bin/python bench/recipe_cv_cpu.py --table docs/recipe_cv_lite1.json

A recipe is a JSON object of modules/settings.Training fields over the default Training(), resolved
for the data as the Trainer resolves it (a model's recipe for small data: modules/registry.py). Each
fold trains as the Trainer does (modules/trainer.compiled_model: the registry's model behind the
augmentation layers, Adam, the schedule's callbacks, balanced class weights from the fold's
counts, one repeated iterator with a new shuffle every pass), on images decoded and resized by
the Transform graph's own function (modules/preprocessing.decode_and_resize), decoded once and
kept in memory. It scores the fold's held-out images with the last epoch's weights: the Trainer
restores its best-validation epoch instead, which on a held-out fold would choose on the images
it is scored on. Results are written after every fold, so a stopped run keeps what it finished.

Two levers cost no extra training and are scored from the same run: --average-last-epoch also scores
the mean of the weights over the last epoch's steps, and --probabilities keeps every held-out image's
probabilities (.npz) for bench/decision_bias.py, which fits and measures a per-class decision bias.
--int8 N also scores each fold's network as the int8 TensorFlow Lite model bench/tflite_int8.py
makes of a pushed one (calibrated on N of the fold's training images), against the same weights in
float32: the cross-validation that decides whether an int8 file ships.
Two more train differently: --linear-probe N trains the new softmax layer alone for N epochs (the
network frozen whole, Adam at LINEAR_PROBE_RATE) before the recipe's epochs, and --head-rate M moves
the softmax layer M times as fast as the network (each Adam step of its weights scaled by M).
"""
import argparse
import json
import sys
import time
from pathlib import Path


import common
from modules import settings

SPLITS = ("train", "validation")
# The levers' settings, fixed before any fold was seen: keras.io's transfer-learning guide trains a
# new head on a frozen network at Adam's default rate.
LINEAR_PROBE_RATE = 1e-3


def image_paths(data_root: Path) -> tuple[list, list, list]:
    """(paths, labels, class names) of train + validation, in the order the folds index them."""
    class_names = sorted(p.name for p in (data_root / "train").iterdir() if p.is_dir())
    paths, labels = [], []
    for split in SPLITS:
        for label, name in enumerate(class_names):
            for path in sorted((data_root / split / name).iterdir()):
                paths.append(path)
                labels.append(label)
    return paths, labels, class_names


def load_images(data_root: Path, image_size: int, cache: Path | None):
    """(images float32 [n, size, size, 3] in [0, 1], labels, class names) of train + validation,
    decoded as the Transform graph decodes; kept in `cache` (a .npz) for the next recipe."""
    import numpy as np
    import tensorflow as tf
    from modules import preprocessing
    paths, labels, class_names = image_paths(data_root)
    if cache and cache.exists():
        stored = np.load(cache)
        if list(stored["class_names"]) == class_names and stored["images"].shape[1] == image_size:
            return stored["images"], stored["labels"], class_names
    decode = tf.function(lambda encoded: preprocessing.decode_and_resize(encoded, image_size))
    images = np.stack([decode(tf.io.read_file(str(path))).numpy() for path in paths])
    labels = np.array(labels, np.int64)
    if cache:
        np.savez(cache, images=images, labels=labels, class_names=np.array(class_names))
    return images, labels, class_names


def data_profile(data_root: Path):
    """The registry's DataProfile of the train split, from the originals' sizes as ingestion buckets
    them: what the pipeline's Trainer counts, for the recipe it would choose."""
    from PIL import Image
    from modules import features, registry
    paths = [p for p in (data_root / "train").glob("*/*") if p.is_file()]
    small = 0
    for path in paths:
        with Image.open(path) as image:
            small += features.size_bucket(min(image.size)) == features.SMALL_SIZE
    return registry.DataProfile(images=len(paths), small_images=small)


def batches(images, labels, indices, batch_size: int, seed: int):
    """Shuffled training batches of images[indices], a new order every pass, repeated without end
    (as the Trainer's fit sees them); batches are gathered from memory, not embedded in the graph."""
    import tensorflow as tf

    def gather(positions):
        chosen = indices[positions]
        return images[chosen], labels[chosen]

    def load(positions):
        image, label = tf.numpy_function(gather, [positions], (tf.float32, tf.int64))
        image.set_shape((None, *images.shape[1:]))
        label.set_shape((None,))
        return image, label
    return (tf.data.Dataset.range(len(indices)).shuffle(len(indices), seed=seed, reshuffle_each_iteration=True)
            .batch(batch_size).repeat().map(load).prefetch(2))


def last_epoch_average(epochs: int):
    """A Keras callback keeping the mean of the model's weights after each step of the last epoch
    (batch-norm statistics included): the weight-average lever, scored on the same fold as the last
    step's weights, so one training gives both. Its `averaged()` is that mean."""
    import tensorflow as tf

    class LastEpochAverage(tf.keras.callbacks.Callback):
        total, steps, epoch = None, 0, 0

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if self.epoch == epochs - 1:
                weights = self.model.get_weights()
                self.total = weights if self.total is None else [t + w for t, w in zip(self.total, weights)]
                self.steps += 1

        def averaged(self):
            return [t / self.steps for t in self.total]
    return LastEpochAverage()


def head_rate_adam(rate: float, head, multiplier: float):
    """Adam at `rate`, whose every step of the weights of the layer `head` is `multiplier` times as
    long. Adam's step does not scale with the gradient, so the step itself is scaled."""
    import tensorflow as tf
    class HeadRateAdam(tf.keras.optimizers.Adam):
        def update_step(self, gradient, variable):
            if self._var_key(variable) not in {self._var_key(weight) for weight in head.trainable_weights}:
                return super().update_step(gradient, variable)
            before = tf.identity(variable)
            super().update_step(gradient, variable)
            variable.assign(before + (variable - before) * multiplier)
    return HeadRateAdam(rate)


def linear_probe(model, scored, config: settings.Training, num_classes: int, epochs: int, train, steps: int,
                 class_weight) -> None:
    """Trains `scored`'s softmax layer alone for `epochs` (the EfficientNet-Lite frozen whole, its
    BatchNorm in inference mode), then makes trainable again what the recipe trains, recompiled."""
    import tensorflow as tf
    from modules import model as models, trainer
    backbone = models.backbone(scored)
    # What the recipe froze (modules/model.build), put back layer by layer after the probe.
    trained = {layer.name: layer.trainable for layer in backbone.layers}
    backbone.trainable = False
    trainer.compile_for_training(model, config, num_classes, tf.keras.optimizers.Adam(LINEAR_PROBE_RATE))
    model.fit(train, steps_per_epoch=steps, epochs=epochs, class_weight=class_weight, verbose=0,
              callbacks=[trainer.StopOnDivergence(LINEAR_PROBE_RATE), trainer.Progress(epochs, steps)])
    backbone.trainable = True
    for layer in backbone.layers:
        layer.trainable = trained[layer.name]
    trainer.compile_for_training(model, config, num_classes, tf.keras.optimizers.Adam(config.recipe.learning_rate))


def train_fold(config: settings.Training, images, labels, fit, held, num_classes: int,
               flip_average: bool = False, average_last_epoch: bool = False, linear_probe_epochs: int = 0,
               head_rate: float = 1.0, int8_calibration: int = 0) -> tuple[dict, dict]:
    """One fold: trains on images[fit] as the Trainer does, scores images[held] (with flip_average,
    as the mean of each image's and its mirror image's probabilities; with average_last_epoch, also
    with the mean of the weights over the last epoch's steps). linear_probe_epochs and head_rate are
    the levers of --linear-probe and --head-rate; with int8_calibration, the trained network is also
    scored as an int8 TensorFlow Lite model calibrated on that many of the fold's training images.
    Returns the scores and the held-out probabilities by how they were scored ("plain", "averaged",
    "int8")."""
    import numpy as np
    import tensorflow as tf
    from sklearn import metrics
    from modules import exporter, learning_rate, trainer
    tf.keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()
    model, scored = trainer.compiled_model(config, num_classes)
    counts = np.bincount(labels[fit], minlength=num_classes)
    steps, recipe = trainer.steps_per_epoch(len(fit), config.batch_size), config.recipe
    class_weight = trainer.class_weights(config, counts)
    train = batches(images, labels, fit, config.batch_size, config.seed)
    average = last_epoch_average(recipe.epochs) if average_last_epoch else None
    started = time.monotonic()
    if linear_probe_epochs:
        linear_probe(model, scored, config, num_classes, linear_probe_epochs, train, steps, class_weight)
    if head_rate != 1.0:
        trainer.compile_for_training(model, config, num_classes,
                                     head_rate_adam(recipe.learning_rate, scored.layers[-1], head_rate))
    model.fit(train, steps_per_epoch=steps, epochs=recipe.epochs, class_weight=class_weight, verbose=0,
              callbacks=[trainer.StopOnDivergence(recipe.learning_rate), trainer.Progress(recipe.epochs, steps),
                         *learning_rate.schedule_callbacks(recipe.learning_rate_schedule, recipe.learning_rate,
                                                           recipe.epochs, steps),
                         *([average] if average else [])])
    train_seconds = time.monotonic() - started
    truth = labels[held]

    def probabilities(view=lambda batch: batch):
        return np.concatenate([scored.predict_on_batch(view(images[held[i:i + 64]])) for i in range(0, len(held), 64)])

    def scores(predicted):
        recall = metrics.recall_score(truth, predicted, average=None, labels=range(num_classes), zero_division=0)
        return {"accuracy": float(metrics.accuracy_score(truth, predicted)),
                "balanced_accuracy": float(metrics.balanced_accuracy_score(truth, predicted)),
                "macro_f1": float(metrics.f1_score(truth, predicted, average="macro")),
                "recall": [float(r) for r in recall]}
    plain_probabilities = probabilities()
    plain = scores(plain_probabilities.argmax(-1))
    fold = {**plain, "held_out": len(held), "train_seconds": round(train_seconds, 1)}
    if flip_average:
        # The same weights, each held-out image scored as the mean of it and its mirror image; the
        # plain scores are kept to show the weights are the plain recipe's own.
        mirrored = probabilities(lambda batch: batch[:, :, ::-1])
        fold = {**fold, "plain": plain, **scores((plain_probabilities + mirrored).argmax(-1))}
    scored_probabilities = {"plain": plain_probabilities}
    if int8_calibration:
        # Calibrated on training images only, drawn with the fold's seed, as bench/tflite_int8.py does.
        calibration = np.random.default_rng(config.seed).choice(fit, int8_calibration, replace=False)
        started = time.monotonic()
        int8 = exporter.TFLiteNetwork(exporter.tflite_model(
            scored, images.shape[1], "int8", lambda: (images[i][np.newaxis] for i in calibration)))
        convert_seconds = time.monotonic() - started
        scored_probabilities["int8"] = np.stack([int8(images[i][np.newaxis]) for i in held])
        top = scored_probabilities["int8"].argmax(-1)
        fold["int8"] = {**scores(top), "top_class_agreement": float(np.mean(top == plain_probabilities.argmax(-1))),
                        "calibration_images": int8_calibration, "convert_seconds": round(convert_seconds, 1)}
    if average:
        model.set_weights(average.averaged())
        scored_probabilities["averaged"] = probabilities()
        fold["averaged"] = scores(scored_probabilities["averaged"].argmax(-1))
    return fold, scored_probabilities


def run_recipe(args) -> int:
    import dataclasses
    import logging
    from sklearn import model_selection
    from modules import registry
    logging.getLogger().setLevel(logging.INFO)
    name, overrides = args.recipe[0], json.loads(args.recipe[1])
    config = settings.Training().replaced(**overrides).resolved()
    if args.epochs:
        config = config.replaced(epochs=args.epochs)
    config = config.for_data(data_profile(args.data_root))
    images, labels, class_names = load_images(args.data_root, registry.get_spec(config.model_name).image_size,
                                              args.cache)
    folds = model_selection.StratifiedKFold(args.folds, shuffle=True, random_state=args.fold_seed)
    results = json.loads(args.output.read_text()) if args.output.exists() else {}
    entry = {"recipe": overrides, "flip_average": args.flip_average, "config": dataclasses.asdict(config),
             "folds": args.folds, "fold_seed": args.fold_seed, "images": len(labels), "class_names": class_names,
             "per_fold": [], "average_last_epoch": args.average_last_epoch,
             "linear_probe_epochs": args.linear_probe, "head_rate": args.head_rate,
             "int8_calibration": args.int8}
    held_out = []
    for number, (fit, held) in enumerate(folds.split(images, labels), start=1):
        if args.only_folds and number > args.only_folds:
            break
        print(f"{name}: fold {number}/{args.folds}, training on {len(fit)} images", file=sys.stderr, flush=True)
        fold, scored = train_fold(config, images, labels, fit, held, len(class_names), args.flip_average,
                                  args.average_last_epoch, args.linear_probe, args.head_rate, args.int8)
        entry["per_fold"].append(fold)
        results[name] = entry
        args.output.write_text(json.dumps(results, indent=1) + "\n")
        if args.probabilities:
            held_out.append((number, held, scored))
            save_probabilities(args.probabilities, labels, class_names, held_out)
        print(f"{name}: fold {number}: accuracy {fold['accuracy']:.4f}, balanced {fold['balanced_accuracy']:.4f}, "
              f"weakest {min(fold['recall']):.3f} ({fold['train_seconds']:.0f} s)", file=sys.stderr, flush=True)
    return 0


def save_probabilities(path: Path, labels, class_names, held_out) -> None:
    """The held-out probabilities of the folds done so far, in one .npz (written whole after each
    fold, through a temporary file, so a stopped run leaves the last complete one): `fold` and
    `labels` per image (fold 0: not yet held out), and one [images, classes] array per scoring."""
    import numpy as np
    fold = np.zeros(len(labels), np.int64)
    arrays = {}
    for number, held, scored in held_out:
        fold[held] = number
        for how, probabilities in scored.items():
            arrays.setdefault(how, np.zeros((len(labels), len(class_names)), np.float32))[held] = probabilities
    partial = path.with_name(path.name + ".partial.npz")
    np.savez_compressed(partial, fold=fold, labels=labels, class_names=np.array(class_names), **arrays)
    partial.replace(path)


def expanded(results: dict):
    """(name, entry) of each recipe, and after a recipe scored with --average-last-epoch or --int8 as
    well, those scores as a recipe of their own."""
    for name, entry in results.items():
        yield name, entry
        for flag, key, scored in (("average_last_epoch", "averaged", "last epoch's weight average"),
                                  ("int8_calibration", "int8", "int8 TensorFlow Lite")):
            if entry.get(flag):
                yield f"{name}, {scored}", {**entry, "per_fold": [{**fold, **fold[key]} for fold in entry["per_fold"]]}


def summaries(results: dict):
    """(name, entry, accuracy a fold, mean recall per class, the paired gain over the first recipe as
    text) of each recipe of a results file."""
    import numpy as np
    reference = None
    for name, entry in expanded(results):
        folds = entry["per_fold"]
        accuracy = np.array([fold["accuracy"] for fold in folds])
        recall = np.mean([fold["recall"] for fold in folds], axis=0)
        if reference is None:
            reference, versus = accuracy, "—"
        else:
            shared = min(len(reference), len(accuracy))
            gain = (accuracy[:shared] - reference[:shared]) * 100
            spread = gain.std(ddof=1) / np.sqrt(shared) if shared > 1 else float("nan")
            versus = f"{gain.mean():+.2f} ± {spread:.2f}"
        yield name, entry, accuracy, recall, versus


def table(path: Path) -> str:
    """The recipes of `path` as a Markdown table, each against the first recipe fold by fold."""
    import numpy as np
    rows = ["| recipe | folds | CV accuracy | vs the first (paired, ± s.e.) | balanced acc | macro F1 | "
            "weakest class (mean recall) | training s a fold |", "|---|---|---|---|---|---|---|---|"]
    for name, entry, accuracy, recall, versus in summaries(json.loads(path.read_text())):
        folds, weakest = entry["per_fold"], int(recall.argmin())
        scoring = "".join(text for flag, text in (
            (entry.get("flip_average"), " scored with flip averaging"),
            (entry.get("linear_probe_epochs"), f" after a {entry.get('linear_probe_epochs')}-epoch linear probe"),
            (entry.get("head_rate", 1.0) != 1.0, f" with the head at {entry.get('head_rate')}x the rate"),
            # The switch that preceded the recipe field frozen_batchnorm (docs/recipe_cv_batchnorm.json).
            (entry.get("frozen_batchnorm"), " with every BatchNorm frozen")) if flag)
        rows.append(f"| {name} `{json.dumps(entry['recipe'])}`{scoring} | {len(folds)}/{entry['folds']} "
                    f"| {accuracy.mean():.4f} | "
                    f"{versus} | {np.mean([f['balanced_accuracy'] for f in folds]):.4f} | "
                    f"{np.mean([f['macro_f1'] for f in folds]):.4f} | {entry['class_names'][weakest]} "
                    f"{recall[weakest]:.3f} | {np.mean([f['train_seconds'] for f in folds]):.0f} |")
    return "\n".join(rows)


def shared_recall(path: Path):
    """(recipes as (name, entry), folds every recipe has done, each recipe's recall [folds, classes]
    on those folds)."""
    import numpy as np
    results = list(expanded(json.loads(path.read_text())))
    shared = min(len(entry["per_fold"]) for _, entry in results)
    return results, shared, [np.array([fold["recall"] for fold in entry["per_fold"][:shared]]) for _, entry in results]


def per_class_table(path: Path) -> str:
    """Each recipe's recall per class, the mean over the folds every recipe has done, and after the
    first its paired gain in points over the first's on those folds."""
    results, shared, recalls = shared_recall(path)
    (_, first), rows, reference = results[0], [], recalls[0]
    for (name, entry), recall in zip(results, recalls):
        cells = [f"{r:.3f}" if entry is first else f"{r:.3f} ({g:+.1f})"
                 for r, g in zip(recall.mean(0), (recall - reference).mean(0) * 100)]
        rows.append(f"| {name} | {shared} | " + " | ".join(cells) + " |")
    return "\n".join([f"| recipe | folds | {' | '.join(first['class_names'])} |",
                      "|---|---|" + "---|" * len(first["class_names"]), *rows])


def plot_per_class(path: Path, png: Path, floor: float = 0.85) -> None:
    """Each recipe's mean recall per class over the folds every recipe has done, each fold a dot,
    and the per-class floor."""
    import numpy as np
    results, shared, recalls = shared_recall(path)
    rows = [(f"{name} (CV accuracy {np.mean([f['accuracy'] for f in entry['per_fold'][:shared]]):.4f})", recall)
            for (name, entry), recall in zip(results, recalls)]
    common.plot_recall_per_class(
        png, results[0][1]["class_names"], rows, f"Recall per class by recipe, {path.name} (bench/recipe_cv_cpu.py)",
        f"recall (mean of {shared} folds; dots: each fold)",
        ylim=(min(0.6, min(recall.min() for recall in recalls) - 0.02), 1.02), floor=floor)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path)
    parser.add_argument("--recipe", nargs=2, metavar=("NAME", "JSON"), help="a name and Training fields")
    parser.add_argument("--output", type=Path, help="the JSON file the recipe's folds are added to")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--fold-seed", type=int, default=settings.Training().seed)
    parser.add_argument("--only-folds", type=int, help="stop after this many folds (a smoke test)")
    parser.add_argument("--epochs", type=int, help="in place of the recipe's (a smoke test)")
    parser.add_argument("--cache", type=Path, help="a .npz of the decoded images, shared by recipes")
    parser.add_argument("--flip-average", action="store_true",
                        help="score each held-out image as the mean of it and its mirror image (test-time flip)")
    parser.add_argument("--average-last-epoch", action="store_true",
                        help="also score the mean of the weights over the last epoch's steps")
    parser.add_argument("--linear-probe", type=int, default=0, metavar="EPOCHS",
                        help="first train the softmax layer alone, the network frozen, for EPOCHS")
    parser.add_argument("--head-rate", type=float, default=1.0, metavar="M",
                        help="train the softmax layer at M times the recipe's learning rate")
    parser.add_argument("--int8", type=int, default=0, metavar="N",
                        help="also score each fold's network as int8 TensorFlow Lite, calibrated on N training images")
    parser.add_argument("--probabilities", type=Path,
                        help="a .npz the held-out probabilities go to (bench/decision_bias.py reads it)")
    parser.add_argument("--table", type=Path, help="print the results file as a Markdown table")
    parser.add_argument("--plot", type=Path, help="with --table, also draw each recipe's recall per class (PNG)")
    args = parser.parse_args()
    if args.table:
        print(table(args.table) + "\n\nRecall per class over the folds every recipe has done (the paired gain "
              "over the first, points):\n\n" + per_class_table(args.table))
        if args.plot:
            plot_per_class(args.table, args.plot)
        return 0
    if not (args.data_root and args.recipe and args.output):
        parser.error("--data-root, --recipe and --output are needed to run a recipe")
    return run_recipe(args)


if __name__ == "__main__":
    sys.exit(main())
