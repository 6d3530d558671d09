"""A corpus of odd and bad files, as real photo folders hold them, written among good images.

Each Case says what ingestion must do with one file: ingest it (and how the stored image
must look) or reject it with a reason containing `expected`.
"""
from __future__ import annotations

import dataclasses
import io
import os
from pathlib import Path
from typing import Callable, Optional

import numpy as np
from PIL import Image

INGESTED = "ingested"
RUNNING_AS_ROOT = os.geteuid() == 0


@dataclasses.dataclass(frozen=True)
class Case:
    kind: str
    path: str                      # relative to the data root
    expected: str                  # INGESTED, or a fragment of the rejection reason
    # For ingested odd files: a check of the stored image (decoded RGB array) -> error or None.
    check_stored: Optional[Callable[[np.ndarray], Optional[str]]] = None


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def photo(root: Path) -> Image.Image:
    """A real photo from the dataset, small enough to keep the corpus fast."""
    path = sorted((root / "train" / "hat").glob("*.jpg"))[0]
    return Image.open(path).convert("RGB").resize((96, 128))


def two_tone(size=(60, 40)) -> Image.Image:
    """Left half red, right half blue: shows orientation after EXIF rotation."""
    pixels = np.zeros((size[1], size[0], 3), np.uint8)
    pixels[:, : size[0] // 2] = (255, 0, 0)
    pixels[:, size[0] // 2:] = (0, 0, 255)
    return Image.fromarray(pixels)


def half_transparent_png() -> bytes:
    pixels = np.zeros((40, 40, 4), np.uint8)
    pixels[..., 1] = 200                 # green...
    pixels[:, :20, 3] = 255              # ...opaque on the left, transparent on the right
    return encode(Image.fromarray(pixels, "RGBA"), "PNG")


def expect_mean(rgb, atol=12):
    def check(stored: np.ndarray):
        mean = stored.reshape(-1, 3).mean(axis=0)
        return None if np.allclose(mean, rgb, atol=atol) else f"mean colour {mean.round()} != {rgb}"
    return check


def expect_upright_two_tone(stored: np.ndarray):
    # EXIF orientation 6 means "rotate 90 degrees clockwise to display": the 60x40 image stored
    # on its side shows as 40 wide, 60 high, red on top.
    if stored.shape[:2] != (60, 40):
        return f"shape {stored.shape[:2]} is not upright (60, 40)"
    top, bottom = stored[:20].reshape(-1, 3).mean(0), stored[-20:].reshape(-1, 3).mean(0)
    return None if top[0] > 200 > bottom[0] and bottom[2] > 200 else f"top {top.round()} bottom {bottom.round()}"


def expect_transparent_over_white(stored: np.ndarray):
    left, right = stored[:, :15].reshape(-1, 3).mean(0), stored[:, 25:].reshape(-1, 3).mean(0)
    ok = np.allclose(left, (0, 200, 0), atol=12) and np.allclose(right, (255, 255, 255), atol=12)
    return None if ok else f"opaque side {left.round()}, transparent side {right.round()}"


def build(root: Path, outside: Path) -> list[Case]:
    """Writes the corpus into root (a dataset with train/hat, train/shoes, train/skirt) and
    returns its cases. `outside` is a folder beside the data root, for links that escape it."""
    hat, shoes = root / "train" / "hat", root / "train" / "shoes"
    base = photo(root)
    marks = iter(range(1, 64))

    def good() -> Image.Image:
        """The photo with a mark of its own: each case's bytes differ, as exact copies are a case of their own."""
        marked = base.copy()
        marked.paste((next(marks) * 4, 0, 0), (0, 0, 8, 8))
        return marked

    def good_jpeg() -> bytes:
        return encode(good(), "JPEG", quality=90)

    cases: list[Case] = []

    def write(relative: str, data: bytes, kind: str, expected: str, check=None):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(data)
        cases.append(Case(kind, relative, expected, check))

    # Odd files that are images: normalized to upright RGB and ingested.
    write("train/hat/photo.png", encode(good(), "PNG"), "PNG", INGESTED)
    write("train/hat/photo.bmp", encode(good(), "BMP"), "BMP", INGESTED)
    frames = [Image.new("RGB", (32, 32), (255, 0, 0)), Image.new("RGB", (32, 32), (0, 0, 255))]
    animated = io.BytesIO()
    frames[0].save(animated, format="GIF", save_all=True, append_images=frames[1:], duration=100)
    write("train/hat/animated.gif", animated.getvalue(), "animated GIF (first frame)", INGESTED,
          expect_mean((255, 0, 0)))
    write("train/hat/gray.jpg", encode(Image.new("L", (32, 32), 90), "JPEG"), "grayscale JPEG", INGESTED,
          expect_mean((90, 90, 90)))
    write("train/hat/cmyk.jpg", encode(Image.new("RGB", (32, 32), (200, 50, 10)).convert("CMYK"), "JPEG"),
          "CMYK JPEG", INGESTED, expect_mean((200, 50, 10)))
    write("train/hat/alpha.png", half_transparent_png(), "RGBA PNG, half transparent", INGESTED,
          expect_transparent_over_white)
    palette = Image.new("P", (32, 32), 0)
    palette.putpalette([10, 20, 200] + [0, 0, 0] * 255)
    write("train/hat/palette.png", encode(palette, "PNG"), "palette PNG", INGESTED, expect_mean((10, 20, 200)))
    sixteen_bit = Image.fromarray(np.full((32, 32), 40000, np.uint16))
    write("train/hat/sixteen-bit.png", encode(sixteen_bit, "PNG"), "16-bit grayscale PNG", INGESTED,
          expect_mean((156, 156, 156)))  # 40000 / 256, as TensorFlow scales it
    exif = Image.Exif()
    exif[0x0112] = 6
    write("train/hat/rotated.jpg", encode(two_tone(), "JPEG", exif=exif.tobytes()),
          "EXIF-rotated JPEG (orientation 6)", INGESTED, expect_upright_two_tone)
    write("train/hat/misnamed.jpg", encode(good(), "PNG"), "PNG named .jpg", INGESTED)
    write("train/hat/progressive.jpg", encode(good(), "JPEG", progressive=True), "progressive JPEG", INGESTED)
    write("train/hat/UPPER.JPEG", good_jpeg(), "upper-case extension .JPEG", INGESTED)
    write("train/shoes/nested/deep.jpg", good_jpeg(), "JPEG in a nested subfolder (keeps its class)", INGESTED)
    write("train/shoes/a-target.jpg", good_jpeg(), "image that a link inside the data root points to", INGESTED)
    os.symlink(shoes / "a-target.jpg", shoes / "link-inside.jpg")
    cases.append(Case("symlink to an image inside the data root: the same bytes twice in a class",
                      "train/shoes/link-inside.jpg", "exact duplicate of train/shoes/a-target.jpg"))

    # Bad files: rejected, each with its reason.
    write("train/hat/empty.jpg", b"", "zero-byte file", "empty file (0 bytes)")
    write("train/hat/truncated.jpg", good_jpeg()[: len(good_jpeg()) // 3], "truncated JPEG",
          "corrupt or truncated JPEG")
    write("train/hat/corrupt.jpg", b"\xff\xd8\xff" + bytes(range(256)) * 4, "JPEG header, garbage body",
          "corrupt JPEG")
    write("train/hat/notes.jpg", b"shopping list: socks\n", "text file named .jpg", "not an image: content is text")
    write("train/hat/invoice.jpg", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "PDF named .jpg",
          "content is a PDF document")
    write("train/hat/photo.webp", encode(good(), "WEBP"), "WebP (TensorFlow 2.16 cannot decode it)", "WebP image")
    write("train/hat/scan.tif", encode(good(), "TIFF"), "TIFF", "content is a TIFF image")
    write("train/hat/bomb.png", encode(Image.new("1", (10_000, 7_000)), "PNG"),
          "decompression bomb (70 megapixels, tiny file)", "over the limit")
    write("train/hat/locked.jpg", good_jpeg(), "file without read permission",
          INGESTED if RUNNING_AS_ROOT else "unreadable: Permission denied")
    os.chmod(root / "train/hat/locked.jpg", 0)
    os.mkfifo(hat / "pipe.jpg")
    cases.append(Case("named pipe (FIFO) named .jpg", "train/hat/pipe.jpg", "not a regular file"))
    os.symlink(hat / "no-such-file.jpg", hat / "dangling.jpg")
    cases.append(Case("broken symbolic link", "train/hat/dangling.jpg", "broken symbolic link"))
    outside.mkdir(parents=True, exist_ok=True)
    (outside / "secret.jpg").write_bytes(good_jpeg())
    os.symlink(outside / "secret.jpg", hat / "escape.jpg")
    cases.append(Case("symlink leaving the data root", "train/hat/escape.jpg",
                      "symbolic link leading outside the data root"))
    (outside / "scarf").mkdir()
    (outside / "scarf" / "a.jpg").write_bytes(good_jpeg())
    for split in ("train", "validation"):
        os.symlink(outside / "scarf", root / split / "scarf")
        cases.append(Case(f"{split} class folder that is a symlink leaving the data root", f"{split}/scarf",
                          "symbolic link leading outside the data root"))
    write("train/stray.jpg", good_jpeg(), "image outside any class folder", "not inside a class folder")
    write("train/hat/.DS_Store", b"\0\0\0\1Bud1", "macOS .DS_Store", "hidden or system file")
    write("train/hat/Thumbs.db", b"\xd0\xcf\x11\xe0", "Windows Thumbs.db", "hidden or system file")
    write("train/hat/._photo.jpg", b"\0\5\26\7", "macOS AppleDouble ._ file", "hidden or system file")
    return cases
