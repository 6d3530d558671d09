"""The Beam ingestion job: every file is ingested or rejected with a reason, and unchanged input is published once."""
import csv
import io
import json
import logging
import os
import shutil
import subprocess

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from components import crash_points
from components.image_example_gen import beam_job, image_files, ingestion, layout, manifest as manifests
from modules import features
from tests import corpus
from tests.conftest import CLI, jpeg_bytes

BEAM_ARGS = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]


def read_examples(directory):
    files = tf.io.gfile.glob(str(directory / "*.tfrecord.gz"))
    return [tf.train.Example.FromString(r.numpy())
            for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def feature(example, key):
    value = example.features.feature[key]
    return value.int64_list.value[0] if value.int64_list.value else value.bytes_list.value[0]


def test_ingests_every_image_with_its_label(small_dataset, tmp_path):
    output = ingestion.run(small_dataset, tmp_path / "out", BEAM_ARGS)
    manifest = manifests.read(output)

    assert manifest["class_names"] == ["hat", "shoes", "skirt"]
    assert manifest["counts"] == {"train": {"hat": 4, "shoes": 4, "skirt": 4},
                                  "eval": {"hat": 2, "shoes": 2, "skirt": 2}}
    assert manifest["files_found"] == manifest["files_ingested"] == 18
    examples = read_examples(manifests.split_uri(output, "train"))
    assert len(examples) == 12
    for example in examples:
        label, name = feature(example, "label"), feature(example, "label_name").decode()
        assert manifest["class_names"][label] == name
        filename = feature(example, "filename").decode()
        assert filename.startswith(f"train/{name}/")
        assert feature(example, "image_raw") == (small_dataset / filename).read_bytes()
    assert len(read_examples(manifests.split_uri(output, "eval"))) == 6


def test_a_class_name_is_the_folder_name_whole(small_dataset, tmp_path):
    name = "long sleeve & <ü>"
    for split in ("train", "validation"):
        (small_dataset / split / "skirt").rename(small_dataset / split / name)
    output = ingestion.run(small_dataset, tmp_path / "out", BEAM_ARGS)
    assert manifests.read(output)["class_names"] == ["hat", name, "shoes"]
    labels = {feature(e, "label_name").decode() for e in read_examples(manifests.split_uri(output, "eval"))}
    assert labels == {"hat", name, "shoes"}


def read_rejected(output):
    with open(output / "rejected.csv") as f:
        return {row["path"]: row["reason"] for row in csv.DictReader(f)}


def test_corpus_every_file_is_ingested_or_rejected_with_its_reason(small_dataset, tmp_path):
    cases = corpus.build(small_dataset, tmp_path / "outside")
    output = ingestion.run(small_dataset, tmp_path / "out", BEAM_ARGS)
    manifest, reasons = manifests.read(output), read_rejected(output)
    stored = {feature(e, "filename").decode(): feature(e, "image_raw")
              for e in read_examples(manifests.split_uri(output, "train"))}

    for case in cases:
        if case.expected == corpus.INGESTED:
            assert case.path in stored, (case.kind, reasons.get(case.path))
            if case.check_stored:
                problem = case.check_stored(np.asarray(Image.open(io.BytesIO(stored[case.path]))))
                assert problem is None, f"{case.kind}: {problem}"
        else:
            assert case.expected in reasons.get(case.path, "(not rejected)"), (case.kind, reasons.get(case.path))
    assert set(reasons) == {c.path for c in cases if c.expected != corpus.INGESTED}
    assert len({c.kind for c in cases}) >= 12 + 12  # odd kinds accepted + bad kinds rejected

    good = 18
    assert manifest["files_found"] == good + len(cases)
    assert manifest["files_rejected"] == len(reasons)
    assert manifest["files_ingested"] == manifest["files_found"] - manifest["files_rejected"]
    assert sum(sum(c.values()) for c in manifest["counts"].values()) == manifest["files_ingested"]


def test_every_stored_image_is_an_upright_rgb_jpeg(small_dataset, tmp_path):
    corpus.build(small_dataset, tmp_path / "outside")
    output = ingestion.run(small_dataset, tmp_path / "out", BEAM_ARGS)
    examples = read_examples(manifests.split_uri(output, "train")) + read_examples(manifests.split_uri(output, "eval"))
    for example in examples:
        image = Image.open(io.BytesIO(feature(example, "image_raw")))
        assert (image.format, image.mode) == ("JPEG", "RGB"), feature(example, "filename")
        assert image.getexif().get(0x0112, 1) == 1


def test_unchanged_input_is_published_once_and_the_first_copy_kept(small_dataset, tmp_path):
    first = ingestion.run(small_dataset, tmp_path / "out", BEAM_ARGS)
    written = {p: p.stat().st_mtime_ns for p in first.rglob("*")}
    again = ingestion.run(small_dataset, tmp_path / "out", BEAM_ARGS)
    assert again == first
    assert {p: p.stat().st_mtime_ns for p in again.rglob("*")} == written

    (small_dataset / "train" / "hat" / "extra.jpg").write_bytes(jpeg_bytes())
    changed = ingestion.run(small_dataset, tmp_path / "out", BEAM_ARGS)
    assert changed != first
    assert manifests.read(changed)["counts"]["train"]["hat"] == 5
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted([first.name, changed.name])


def test_test_split_is_ingested_when_present(small_dataset, tmp_path):
    (small_dataset / "test" / "hat").mkdir(parents=True)
    (small_dataset / "test" / "hat" / "a.jpg").write_bytes(jpeg_bytes())
    manifest = manifests.read(ingestion.run(small_dataset, tmp_path / "out", BEAM_ARGS))
    assert manifest["splits"] == ["train", "eval", "test"]
    assert manifest["counts"]["test"]["hat"] == 1


def remove_validation(root):
    shutil.rmtree(root / "validation")


def add_image_of_unknown_eval_class(root):
    (root / "validation" / "scarf").mkdir()
    (root / "validation" / "scarf" / "a.jpg").write_bytes(jpeg_bytes())


def add_empty_train_class(root):
    (root / "train" / "scarf").mkdir()
    (root / "train" / "scarf" / ".DS_Store").write_bytes(b"\0")


def spoil_every_train_image_of_a_class(root):
    for path in (root / "train" / "skirt").iterdir():
        path.write_text("not a photo")


def add_class_named_with_a_newline(root):
    (root / "train" / "long\nsleeve").mkdir()
    (root / "train" / "long\nsleeve" / "a.jpg").write_bytes(jpeg_bytes())


def keep_one_class(root):
    for split in ("train", "validation"):
        for name in ("shoes", "skirt"):
            shutil.rmtree(root / split / name)


def hide_all_classes_but_one(root):
    # Folders whose names start with a dot are hidden: their files are rejected, they are no class.
    (root / "train" / "shoes").rename(root / "train" / "..shoes")
    (root / "train" / "skirt").rename(root / "train" / "...")


@pytest.mark.parametrize("damage, message", [
    (remove_validation, "validation: required split folder is missing"),
    (keep_one_class, "train: only class folder 'hat'; a classifier needs at least 2$"),
    (hide_all_classes_but_one, r"train: only class folder 'hat'; a classifier needs at least 2 \(skipped as hidden, "
                               r"their files rejected: \.\.\., \.\.shoes\)"),
    (add_image_of_unknown_eval_class, "class 'scarf' is not one of hat, shoes, skirt"),
    (add_empty_train_class, "train/scarf: class folder holds no image files"),
    (add_class_named_with_a_newline, r"long\\nsleeve'?: class folder name holds a control character"),
    (spoil_every_train_image_of_a_class,
     r"train/skirt: no usable image, all 4 files rejected \(first: train/skirt/.*: not an image: content is text\)"),
])
def test_inconsistent_layouts_are_clear_errors(small_dataset, tmp_path, damage, message):
    damage(small_dataset)
    with pytest.raises(layout.IngestionError, match=message):
        ingestion.run(small_dataset, tmp_path / "out", BEAM_ARGS)
    assert not any((tmp_path / "out").glob("*"))  # nothing, not even a temporary directory


def test_failed_conversion_leaves_no_dataset(small_dataset, tmp_path, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("worker died")
    monkeypatch.setattr(manifests, "write", crash)
    with pytest.raises(RuntimeError, match="worker died"):
        ingestion.run(small_dataset, tmp_path / "out", BEAM_ARGS)
    assert list((tmp_path / "out").iterdir()) == []


def test_manifest_is_json_with_content_hash(small_dataset, tmp_path):
    output = ingestion.run(small_dataset, tmp_path / "out", BEAM_ARGS)
    manifest = json.loads((output / "manifest.json").read_text())
    assert output.name == manifest["content_hash"][:16]
    assert len(manifest["content_hash"]) == 64


def test_a_class_missing_from_validation_is_one_warning(small_dataset, tmp_path, caplog):
    shutil.rmtree(small_dataset / "validation" / "skirt")
    with caplog.at_level(logging.WARNING):
        layout.scan(str(small_dataset))  # as a run checks the layout before it starts the pipeline
        manifest = manifests.read(ingestion.run(small_dataset, tmp_path / "out", BEAM_ARGS))
    assert manifest["counts"]["eval"]["skirt"] == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [f"ingest: {small_dataset / 'validation'} has no images of class(es) skirt; its metrics will "
                        "lack them"]


def test_killed_ingestion_leaves_no_dataset_and_the_next_run_completes(small_dataset, tmp_path):
    out = tmp_path / "out"
    command = [CLI, "ingest", "--data-root", str(small_dataset), "--output", str(out)]
    killed = subprocess.run(command, capture_output=True, text=True,
                            env={**os.environ, crash_points.ENVIRONMENT_VARIABLE: "ingestion-before-publish"})
    assert killed.returncode == -9, killed.stderr[-2000:]
    leftovers = list(out.iterdir())
    assert [p.name.startswith(ingestion.STAGING_PREFIX) for p in leftovers] == [True]
    assert (leftovers[0] / "manifest.json").is_file()  # fully written, yet not published
    assert not list(out.glob("[!.]*"))

    again = subprocess.run(command, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-2000:]
    published = json.loads(again.stdout)["output"]
    assert [p.name for p in out.iterdir()] == [os.path.basename(published)]
    assert manifests.read(published)["files_ingested"] == 18


def test_a_data_root_on_a_non_local_filesystem_is_scanned_and_read_through_gfile(small_dataset, tmp_path):
    """TensorFlow's in-memory ram:// filesystem stands in for gs://: no os.path, open() or Path on it."""
    root = "ram://ingestion-test/data"
    for path in sorted(small_dataset.rglob("*.jpg")):
        target = f"{root}/{path.relative_to(small_dataset).as_posix()}"
        tf.io.gfile.makedirs(target.rsplit("/", 1)[0])
        with tf.io.gfile.GFile(target, "wb") as f:
            f.write(path.read_bytes())
    with tf.io.gfile.GFile(f"{root}/train/hat/.DS_Store", "wb") as f:
        f.write(b"\0")
    scanned = layout.scan(root)
    local = layout.scan(small_dataset)
    assert scanned.class_names == local.class_names and scanned.splits == ["train", "eval"]
    assert sorted(c.relative_path for c in scanned.candidates) == sorted(c.relative_path for c in local.candidates)
    assert scanned.rejected == [("train/hat/.DS_Store", "hidden or system file")]
    assert all(c.path.startswith(root + "/") for c in scanned.candidates)
    reason, data = image_files.read_image_file(scanned.candidates[0].path)
    assert reason is None and data == (small_dataset / scanned.candidates[0].relative_path).read_bytes()
    converted = beam_job.convert(scanned, root, str(tmp_path / "out"), lambda: ingestion._beam_pipeline(BEAM_ARGS))
    assert len(converted.digest) == 64 and converted.found.exact == [] and converted.found.near == []
    assert converted.manifest["files_ingested"] == len(scanned.candidates)
    assert converted.manifest["files_rejected"] == 1


@pytest.fixture
def with_duplicates(small_dataset, tmp_path):
    """The small dataset with an exact copy under another class, one twice in a class, one in train
    and validation, and a near copy (re-encoded smaller) across splits; ingested."""
    train, validation = small_dataset / "train", small_dataset / "validation"
    hats, skirts = sorted((train / "hat").iterdir()), sorted((train / "skirt").iterdir())
    shutil.copy(hats[0], train / "shoes" / "hat-in-shoes.jpg")          # conflicting labels
    shutil.copy(hats[1], train / "hat" / "zz-copy.jpg")                 # same class, twice
    shutil.copy(skirts[0], validation / "skirt" / "leaked.jpg")         # in train and validation
    smaller = Image.open(skirts[1]).convert("RGB")
    smaller = smaller.resize((smaller.width * 7 // 10, smaller.height * 7 // 10))
    smaller.save(validation / "skirt" / "re-encoded.jpg", quality=60)   # a near copy, across splits
    return ingestion.run(small_dataset, tmp_path / "out", BEAM_ARGS), hats, skirts


def test_duplicates_are_found_and_handled_by_the_policy(with_duplicates):
    output, hats, skirts = with_duplicates
    manifest, rejected = manifests.read(output), read_rejected(output)
    hat0, hat1 = (f"train/hat/{p.name}" for p in hats[:2])
    assert rejected[hat0] == "exact duplicate with conflicting labels: the same bytes are train/shoes/hat-in-shoes.jpg"
    assert rejected["train/shoes/hat-in-shoes.jpg"] == (
        f"exact duplicate with conflicting labels: the same bytes are {hat0}")
    assert rejected["train/hat/zz-copy.jpg"] == f"exact duplicate of {hat1}"
    assert hat1 not in rejected and "validation/skirt/leaked.jpg" not in rejected
    found = manifest["duplicates"]
    assert {(tuple(e["paths"]), e["kind"]) for e in found["exact"]} == {
        ((hat0, "train/shoes/hat-in-shoes.jpg"), "conflicting labels"),
        ((hat1, "train/hat/zz-copy.jpg"), "same class"),
        ((f"train/skirt/{skirts[0].name}", "validation/skirt/leaked.jpg"), "across splits")}
    near = [(tuple(n["paths"]), n["kind"]) for n in found["near"]]
    assert ((f"train/skirt/{skirts[1].name}", "validation/skirt/re-encoded.jpg"), "across splits") in near
    assert found["counts"]["exact_conflicting_labels"] == 1 and found["counts"]["near_across_splits"] >= 1
    assert manifest["files_found"] == manifest["files_ingested"] + manifest["files_rejected"] == 22
    assert manifest["files_rejected"] == 3


def test_the_report_lists_the_duplicates_and_shows_the_near_copies(with_duplicates):
    from components.run_report import figures, report
    output, _, skirts = with_duplicates
    section = report._duplicates(manifests.read(output), str(output), figures)
    assert "Duplicates (3 sets of exact copies, 1 near-copy pair)" in section
    assert section.count("<tr") == 1 + 3 + 1  # header, exact sets, near pairs
    assert f"train/skirt/{skirts[1].name}, validation/skirt/re-encoded.jpg" in section
    assert 'alt="near copies"' in section


def test_near_pairs_finds_what_comparing_every_pair_finds():
    from components.image_example_gen import duplicates
    rng = np.random.default_rng(111)
    base = rng.integers(0, 256, (40, 32), dtype=np.uint8)
    # Near copies of the first ten: a few bits flipped each.
    copies = base[:10].copy()
    for row in copies:
        for bit in rng.choice(256, size=rng.integers(0, 12), replace=False):
            row[bit // 8] ^= 1 << (bit % 8)
    hashes = [bytes(row) for row in np.concatenate([base, copies])]
    def distance(a: bytes, b: bytes) -> int:
        return int(np.unpackbits(np.frombuffer(a, np.uint8) ^ np.frombuffer(b, np.uint8)).sum())

    brute = sorted((i, j, d) for i in range(len(hashes)) for j in range(i + 1, len(hashes))
                   for d in [distance(hashes[i], hashes[j])] if d <= 10)
    assert duplicates.near_pairs(hashes, 10) == brute and len(brute) >= 5


def test_the_manifest_lists_a_bounded_number_of_pairs_and_counts_them_all(monkeypatch):
    from components.image_example_gen import duplicates
    files = [duplicates.File(f"train/a/{i}.jpg", "train", "a") for i in range(5)]
    # Different bytes, the same picture: every pair is a near copy, 10 in all.
    found = duplicates.find(files, {f.relative_path: str(i) for i, f in enumerate(files)},
                            {f.relative_path: bytes(32) for f in files})
    monkeypatch.setattr(duplicates, "LISTED", 3)
    listed = found.to_json()
    assert len(listed["near"]) == 3 and duplicates.totals(listed) == (0, 10) and found.rejected == []


def image_file(path, mode, size, fill, fmt, noise=0):
    """An image of one colour, with noise around it (so that no two look alike to the near-copy hash)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new(mode, size, fill)
    if noise:
        rng = np.random.default_rng(len(str(path)))
        pixels = np.asarray(image, dtype=np.float32)
        image = Image.fromarray(np.clip(rng.normal(pixels, noise), 0, 255).astype(np.uint8), mode)
    image.save(path, format=fmt)


def test_every_example_records_the_properties_of_its_original_image(tmp_path):
    data = tmp_path / "data"
    image_file(data / "train" / "hat" / "grey.png", "L", (100, 60), 20, "PNG", noise=8)     # small, dark, wide
    image_file(data / "train" / "hat" / "clear.png", "RGBA", (300, 300), (0, 0, 0, 0), "PNG")  # over white: bright
    image_file(data / "train" / "shoes" / "print.jpg", "CMYK", (600, 100), (0, 0, 0, 0), "JPEG")
    image_file(data / "train" / "shoes" / "tall.jpg", "RGB", (520, 900), (120, 110, 100), "JPEG", noise=30)
    image_file(data / "validation" / "hat" / "v.jpg", "RGB", (200, 150), (90, 90, 90), "JPEG", noise=30)
    (data / "validation" / "shoes").mkdir()
    shutil.copy(data / "train" / "shoes" / "tall.jpg", data / "validation" / "shoes")  # a copy across splits
    output = ingestion.run(data, tmp_path / "out", BEAM_ARGS)
    examples = read_examples(manifests.split_uri(output, "train")) + read_examples(manifests.split_uri(output, "eval"))
    found = {feature(e, "filename").decode(): tuple(feature(e, key).decode() for key in features.SLICE_KEYS)
             for e in examples}
    assert found == {
        "train/hat/grey.png": ("under 128 px", "greyscale", "dark", "landscape", "no"),
        "train/hat/clear.png": ("256-511 px", "transparent", "bright", "square", "no"),
        "train/shoes/print.jpg": ("under 128 px", "cmyk", "bright", "extreme", "no"),
        "train/shoes/tall.jpg": ("512 px or more", "rgb", "normal", "portrait", "yes"),
        "validation/hat/v.jpg": ("128-255 px", "rgb", "normal", "landscape", "no"),
        "validation/shoes/tall.jpg": ("512 px or more", "rgb", "normal", "portrait", "yes"),
    }
