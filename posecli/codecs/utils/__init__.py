"""Small numeric helpers shared by the codecs (numpy in, numpy out, batched)."""

from posecli.codecs.utils.blur import gaussian_blur, gaussian_blur1d, gaussian_kernel_1d
from posecli.codecs.utils.gaussian import (
    msra_gaussian_heatmaps,
    udp_gaussian_heatmaps,
    udp_offset_heatmaps,
    unbiased_gaussian_heatmaps,
)
from posecli.codecs.utils.maxima import heatmap_maximum, simcc_maximum
from posecli.codecs.utils.refine import (
    refine_dark,
    refine_dark_udp,
    refine_quarter,
    refine_simcc_dark,
    refine_simcc_expectation,
)

__all__ = [
    "gaussian_blur",
    "gaussian_blur1d",
    "gaussian_kernel_1d",
    "heatmap_maximum",
    "msra_gaussian_heatmaps",
    "refine_dark",
    "refine_dark_udp",
    "refine_quarter",
    "refine_simcc_dark",
    "refine_simcc_expectation",
    "simcc_maximum",
    "udp_gaussian_heatmaps",
    "udp_offset_heatmaps",
    "unbiased_gaussian_heatmaps",
]
