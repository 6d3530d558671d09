"""Packs what bench/recipe_cv.py needs into one folder small enough to carry to a GPU machine:
train + validation resized to 256 px JPEGs (quality 80) in one tar, the Lite0 ImageNet weights
(float16, without the ImageNet head) and this repo's Keras features of 8 images, against which
the torch port is checked.

    .venv/bin/python bench/recipe_cv_pack.py --data-root ../shared/datasets/clothing-dataset-small --output cv_kit
"""
import argparse
import io
import sys
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from modules import efficientnet_lite, torch_weights  # noqa: E402  pylint: disable=wrong-import-position

SIZE, QUALITY = 256, 80


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    classes = sorted(p.name for p in (args.data_root / "train").iterdir() if p.is_dir())
    with tarfile.open(args.output / "images.tar", "w") as tar:
        for split in ("train", "validation"):
            for name in classes:
                for path in sorted((args.data_root / split / name).iterdir()):
                    image = Image.open(path).convert("RGB").resize((SIZE, SIZE), Image.BILINEAR)
                    buffer = io.BytesIO()
                    image.save(buffer, "JPEG", quality=QUALITY)
                    info = tarfile.TarInfo(f"{split}/{name}/{path.name}")
                    info.size = buffer.tell()
                    buffer.seek(0)
                    tar.addfile(info, buffer)
    state = torch_weights.load_state_dict(efficientnet_lite.packaged_weights_file(), efficientnet_lite.LITE0.weights_sha256)
    np.savez(args.output / "lite0.npz", **{key: value.astype(np.float16) for key, value in state.items()
                                            if not key.startswith("_fc") and "num_batches" not in key})
    with tarfile.open(args.output / "images.tar") as tar:
        members = [m for m in tar.getmembers() if m.isfile()][::400][:8]
        images = np.stack([np.asarray(Image.open(io.BytesIO(tar.extractfile(m).read()))) for m in members])
    features = efficientnet_lite.imagenet_model(SIZE).predict(images.astype(np.float32) / 255.0, verbose=0)
    np.savez(args.output / "reference_features.npz", names=np.array([m.name for m in members]), features=features)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
