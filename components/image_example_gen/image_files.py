"""One file of a user's photo folder -> the upright RGB image bytes the pipeline stores, or why not.

Accepted: JPEG, PNG, BMP and GIF (first frame): the formats TensorFlow's decode_image reads,
so that `serving_jpeg` can score any image ingestion accepts. Grayscale, 16-bit, palette,
CMYK and transparent images become RGB (transparency over white), and EXIF orientation is
applied. A plain RGB JPEG that needs none of this is stored byte for byte; anything else is
re-encoded as a quality-95 JPEG, so every stored image is an upright RGB JPEG.

Rejected, with a reason: empty, unreadable, truncated or corrupt files, content that is no
image (text, PDF, ...) whatever the extension, formats TensorFlow cannot decode (WebP and
TIFF in TF 2.16), and images above MAX_PIXELS (decompression bombs).
"""
from __future__ import annotations

import io
from typing import Optional

import numpy as np
from PIL import Image, ImageOps

from modules import errors, features, filesystem

MAX_PIXELS = features.MAX_IMAGE_PIXELS
RE_ENCODE_QUALITY = 95
EXIF_ORIENTATION = 0x0112

# Leading bytes -> what else a file may be (the decodable formats are features.IMAGE_SIGNATURES).
OTHER_SIGNATURES = {b"%PDF": "a PDF document", b"PK\x03\x04": "a ZIP archive", b"II*\x00": "a TIFF image",
                    b"MM\x00*": "a TIFF image", b"\x00\x00\x01\x00": "an ICO icon", b"8BPS": "a Photoshop file"}

# Pillow's own bomb check would raise at 2x its default limit with a message naming no file; the
# explicit MAX_PIXELS check below replaces it.
Image.MAX_IMAGE_PIXELS = None


def sniff_format(data: bytes) -> Optional[str]:
    """The TensorFlow-decodable format `data` starts with, or None."""
    for signature, name in features.IMAGE_SIGNATURES.items():
        if data.startswith(signature):
            return name
    return None


def describe_non_image(data: bytes) -> str:
    """Why `data` (not starting with a decodable signature) is rejected."""
    for signature, what in OTHER_SIGNATURES.items():
        if data.startswith(signature):
            return f"not a supported image: content is {what}"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ("WebP image: TensorFlow 2.16 cannot decode WebP, so the served model could not read it; "
                "convert to JPEG or PNG")
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypavif"):
        return "HEIC/AVIF image: TensorFlow cannot decode it; convert to JPEG or PNG"
    head = data[:512]
    try:
        head.decode("utf-8")
        if all(32 <= b or b in b"\t\r\n\f" for b in head):
            return "not an image: content is text"
    except UnicodeDecodeError:
        pass
    return "not an image: content matches no known image format"


def read_image_file(path: str) -> tuple[Optional[str], bytes]:
    """(None, image bytes to store) for an acceptable image file, else (reason, b"")."""
    reason, stored, _ = read_image_and_original(path)
    return reason, stored


def read_image_and_original(path: str) -> tuple[Optional[str], bytes, bytes]:
    """read_image_file's answer and the file's own bytes (b"" when unreadable), for `properties`."""
    error, original = filesystem.read_bytes(path)
    if error is not None:
        return f"unreadable: {error}", b"", b""
    return (*normalize(original), original)


def normalize(data: bytes) -> tuple[Optional[str], bytes]:
    """(None, upright RGB JPEG bytes) for encoded image bytes, else (reason, b"")."""
    if not data:
        return "empty file (0 bytes)", b""
    image_format = sniff_format(data)
    if image_format is None:
        return describe_non_image(data), b""
    try:
        image = Image.open(io.BytesIO(data))  # reads the header, not the pixels
        width, height = image.size
    except Image.UnidentifiedImageError:
        return f"corrupt {image_format}: a {image_format} signature, but no decodable {image_format} data", b""
    except Exception as e:  # Pillow raises many types for bad data
        return f"corrupt or truncated {image_format}: {_first_line(e)}", b""
    if width * height > MAX_PIXELS:
        return (f"{image_format} of {width}x{height} pixels is over the limit of {MAX_PIXELS:,} "
                f"(decompression bomb?)"), b""

    # The one full decode of files stored as they are: TensorFlow's, the decoder the served model
    # uses (stricter than Pillow about some files). After the pixel limit, on purpose.
    reason = _tensorflow_rejects(data)
    if reason:
        return f"corrupt or truncated {image_format}: {reason}", b""
    orientation = image.getexif().get(EXIF_ORIENTATION, 1)
    if image_format == "JPEG" and image.mode == "RGB" and orientation == 1:
        return None, data
    try:
        return None, _re_encode(ImageOps.exif_transpose(image))
    except Exception as e:
        return f"corrupt or truncated {image_format}: {_first_line(e)}", b""


# Pillow modes with an alpha channel (a palette image may carry transparency in its info instead).
TRANSPARENT_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode -> RGB; transparent pixels over white, 16-bit scaled as TensorFlow does."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        pixels = np.asarray(image, dtype=np.uint32) >> 8
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), mode="L")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in TRANSPARENT_MODES:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def _re_encode(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    to_rgb(image).save(buffer, format="JPEG", quality=RE_ENCODE_QUALITY)
    return buffer.getvalue()


def _tensorflow_rejects(data: bytes) -> Optional[str]:
    import tensorflow as tf
    try:
        tf.io.decode_image(data, channels=3, expand_animations=False)
    except (tf.errors.InvalidArgumentError, ValueError) as e:
        return errors.tensorflow_words(_first_line(e))
    return None


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__


# Properties of an original image that the evaluation slices on (features.SLICE_KEYS): buckets a
# person can read, coarse enough that each slice holds enough images to mean something.
DARK, BRIGHT = 64, 192  # mean luminance (0-255) below / above which an image is dark / bright
EXTREME_ASPECT = 2.0    # longer side over shorter side
SQUARE_ASPECT = 1.2


def properties(original: bytes) -> dict:
    """The slicing properties (features.SLICE_KEYS but the near copy) of an accepted original image."""
    image = Image.open(io.BytesIO(original))
    width, height = image.size
    if image.getexif().get(EXIF_ORIENTATION, 1) in (5, 6, 7, 8):  # shown rotated a quarter turn
        width, height = height, width
    shorter, longer = min(width, height), max(width, height)
    size = features.size_bucket(shorter)
    if image.mode in TRANSPARENT_MODES or (image.mode == "P" and "transparency" in image.info):
        colour = "transparent"
    elif image.mode == "CMYK":
        colour = "cmyk"
    elif image.mode in ("1", "L", "I", "I;16", "I;16B", "I;16L", "F"):
        colour = "greyscale"
    else:
        colour = "rgb"
    ratio = longer / max(shorter, 1)
    if ratio > EXTREME_ASPECT:
        aspect = "extreme"
    elif ratio < SQUARE_ASPECT:
        aspect = "square"
    else:
        aspect = "portrait" if height > width else "landscape"
    image.draft("L", (64, 64))  # a JPEG decodes at a fraction of its size: cheap
    small = to_rgb(image).convert("L")
    small.thumbnail((64, 64))
    luminance = float(np.asarray(small, dtype=np.float32).mean())
    brightness = "dark" if luminance < DARK else "bright" if luminance > BRIGHT else "normal"
    return {features.SIZE_KEY: size, features.COLOUR_KEY: colour, features.ASPECT_KEY: aspect,
            features.BRIGHTNESS_KEY: brightness}
