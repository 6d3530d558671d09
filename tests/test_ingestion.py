"""The Beam ingestion job: every file is ingested or rejected with a reason, and re-runs are free."""
import csv
import json
import os
import shutil

import pytest
import tensorflow as tf

from pipeline import ingestion
from tests.conftest import jpeg_bytes

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
    manifest = ingestion.read_manifest(output)

    assert manifest["class_names"] == ["hat", "shoes", "skirt"]
    assert manifest["counts"] == {"train": {"hat": 4, "shoes": 4, "skirt": 4},
                                  "eval": {"hat": 2, "shoes": 2, "skirt": 2}}
    assert manifest["files_found"] == manifest["files_ingested"] == 18
    examples = read_examples(output / "train")
    assert len(examples) == 12
    for example in examples:
        label, name = feature(example, "label"), feature(example, "label_name").decode()
        assert manifest["class_names"][label] == name
        filename = feature(example, "filename").decode()
        assert filename.startswith(f"train/{name}/")
        assert feature(example, "image_raw") == (small_dataset / filename).read_bytes()
    assert len(read_examples(output / "eval")) == 6


def test_bad_files_are_listed_with_reasons_not_dropped(small_dataset, tmp_path):
    train = small_dataset / "train"
    good = next((train / "hat").glob("*.jpg")).read_bytes()
    (train / "hat" / "empty.jpg").write_bytes(b"")
    (train / "hat" / "notes.jpg").write_text("not an image")
    (train / "hat" / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (train / "hat" / "picture.png").write_bytes(jpeg_bytes(fmt="PNG"))
    (train / "hat" / ".DS_Store").write_bytes(b"\0\0")
    (train / "stray.jpg").write_bytes(good)
    (train / "shoes" / "nested").mkdir()
    (train / "shoes" / "nested" / "deep.jpg").write_bytes(good)  # nested folders keep their class
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(good)
    os.symlink(outside, train / "skirt" / "link.jpg")

    output = ingestion.run(small_dataset, tmp_path / "out", BEAM_ARGS)
    manifest = ingestion.read_manifest(output)
    with open(output / "rejected.csv") as f:
        reasons = {row["path"]: row["reason"] for row in csv.DictReader(f)}

    assert reasons == {
        "train/hat/empty.jpg": "empty file (0 bytes)",
        "train/hat/notes.jpg": "not a JPEG image (content does not start with a JPEG marker)",
        "train/hat/truncated.jpg": reasons["train/hat/truncated.jpg"],
        "train/hat/picture.png": "not a JPEG image (content does not start with a JPEG marker)",
        "train/hat/.DS_Store": "hidden or system file",
        "train/stray.jpg": "not inside a class folder",
        "train/skirt/link.jpg": "symbolic link leading outside the data root",
    }
    assert reasons["train/hat/truncated.jpg"].startswith("corrupt JPEG")
    assert manifest["files_found"] == 18 + 8
    assert manifest["files_rejected"] == 7
    assert manifest["files_ingested"] == manifest["files_found"] - manifest["files_rejected"]
    assert manifest["counts"]["train"] == {"hat": 4, "shoes": 5, "skirt": 4}


def test_unchanged_input_is_not_converted_again(small_dataset, tmp_path):
    first = ingestion.run(small_dataset, tmp_path / "out", BEAM_ARGS)
    written = {p: p.stat().st_mtime_ns for p in first.rglob("*")}
    again = ingestion.run(small_dataset, tmp_path / "out", BEAM_ARGS)
    assert again == first
    assert {p: p.stat().st_mtime_ns for p in again.rglob("*")} == written

    (small_dataset / "train" / "hat" / "extra.jpg").write_bytes(jpeg_bytes())
    changed = ingestion.run(small_dataset, tmp_path / "out", BEAM_ARGS)
    assert changed != first
    assert ingestion.read_manifest(changed)["counts"]["train"]["hat"] == 5
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted([first.name, changed.name])


def test_test_split_is_ingested_when_present(small_dataset, tmp_path):
    (small_dataset / "test" / "hat").mkdir(parents=True)
    (small_dataset / "test" / "hat" / "a.jpg").write_bytes(jpeg_bytes())
    manifest = ingestion.read_manifest(ingestion.run(small_dataset, tmp_path / "out", BEAM_ARGS))
    assert manifest["splits"] == ["train", "eval", "test"]
    assert manifest["counts"]["test"]["hat"] == 1


def remove_validation(root):
    shutil.rmtree(root / "validation")


def add_image_of_unknown_eval_class(root):
    (root / "validation" / "scarf").mkdir()
    (root / "validation" / "scarf" / "a.jpg").write_bytes(jpeg_bytes())


def add_empty_train_class(root):
    (root / "train" / "scarf").mkdir()


@pytest.mark.parametrize("damage, message", [
    (remove_validation, "validation: required split folder is missing"),
    (add_image_of_unknown_eval_class, "class 'scarf' is not one of hat, shoes, skirt"),
    (add_empty_train_class, "train/scarf: class folder holds no image files"),
])
def test_inconsistent_layouts_are_clear_errors(small_dataset, tmp_path, damage, message):
    damage(small_dataset)
    with pytest.raises(ingestion.IngestionError, match=message):
        ingestion.run(small_dataset, tmp_path / "out", BEAM_ARGS)
    assert not (tmp_path / "out").exists()


def test_failed_conversion_leaves_no_dataset(small_dataset, tmp_path, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("worker died")
    monkeypatch.setattr(ingestion, "_write_accounting", crash)
    with pytest.raises(RuntimeError, match="worker died"):
        ingestion.run(small_dataset, tmp_path / "out", BEAM_ARGS)
    assert list((tmp_path / "out").iterdir()) == []


def test_manifest_is_json_with_content_hash(small_dataset, tmp_path):
    output = ingestion.run(small_dataset, tmp_path / "out", BEAM_ARGS)
    manifest = json.loads((output / "manifest.json").read_text())
    assert output.name == manifest["content_hash"][:16]
    assert len(manifest["content_hash"]) == 64
