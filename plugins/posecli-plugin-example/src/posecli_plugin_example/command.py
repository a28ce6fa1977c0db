"""``posecli softargmax-check``: round-trip random keypoints through the plugin's codec."""

from __future__ import annotations

from typing import Annotated

import numpy as np
import typer


def softargmax_check(
    width: Annotated[int, typer.Option(help="Input width in pixels.")] = 192,
    height: Annotated[int, typer.Option(help="Input height in pixels.")] = 256,
    keypoints: Annotated[int, typer.Option(help="Number of keypoints.")] = 17,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Encode random keypoints with softargmax_heatmap, decode them, print the max error (px)."""
    from posecli.plugins import registry

    codec = registry("codecs").build(
        "softargmax_heatmap", input_size=(width, height), heatmap_size=(width // 4, height // 4)
    )
    rng = np.random.default_rng(seed)
    margin = 4 * codec.sigma * float(codec.scale.max())  # keep ±4σ of the gaussian inside
    kps = rng.uniform([margin, margin], [width - margin, height - margin], (1, keypoints, 2))
    encoded = codec.encode(kps.astype(np.float32))
    decoded, _ = codec.batch_decode(encoded["heatmaps"][None])
    error = float(np.abs(decoded[0] - kps[0]).max())
    typer.echo(f"softargmax_heatmap round trip on {keypoints} keypoints: max error {error:.3f} px")
