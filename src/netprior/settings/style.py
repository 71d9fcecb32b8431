"""Style-transfer settings: the pixel optimisers of Gatys et al. (those of texture synthesis) and the feed-forward
stylisation networks' training presets."""

from __future__ import annotations

from ..config import register
from ..feedforward import ARCH_BATCH, ARCH_LR, ARCH_TV, TrainConfig
from .texture import OPTIMISERS

STYLE_ARCHS = ("stylisation_net", "style_net")
register("style", OPTIMISERS)
STYLE_PRESETS: dict[str, TrainConfig] = register("style-train", {
    "stylisation_net": TrainConfig("stylisation_net", alpha=1.0, source="thesis §2.3.3, §2.4.1 (Adam lr 0.1)"),
    "style_net": TrainConfig("style_net", alpha=1.0, lr=ARCH_LR["style_net"], batch=ARCH_BATCH["style_net"],
                             tv=ARCH_TV["style_net"],
                             source="thesis §3.5; lr 0.001 (Johnson et al. 2016), measured with the content skip; "
                                    "batch 2, measured at a fixed budget; TV weight 5 against a streak: "
                                    "docs/methods/texture.md"),
})
