"""A small lifter for the mirror-mouse skeleton trained on synthetic projections (smoke tests).

A rigid 17-point 3D "mouse" (a 10 cm cloud) is turned about the vertical, moved, and projected
by a pinhole camera of the bundled video's size; the lifter learns the root-relative 3D pose
from the 2D projections. It says nothing about real mice: it exercises ``predict --lift``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from tests.lifting.conftest import RECIPES

SIZE = (396, 406)  # examples/mirror-mouse/videos/test_vid.mp4


def synthetic_samples(n: int, length: int, rng: np.random.Generator) -> list[dict]:
    template = np.random.default_rng(42).normal(0, 0.04, (17, 3))
    samples = []
    for _ in range(n):
        yaw = rng.uniform(-np.pi, np.pi)
        rot = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
        pose = template @ rot.T + np.array([rng.uniform(-0.1, 0.1), rng.uniform(-0.1, 0.1), 0.6])
        seq = np.repeat(pose[None], length, 0) + rng.normal(0, 0.002, (length, 17, 3))
        f, c = 400.0, np.array(SIZE, np.float64) / 2
        kp = seq[..., :2] / seq[..., 2:] * f + c
        samples.append(
            {
                "keypoints": kp.astype(np.float32),
                "keypoints_visible": np.ones((length, 17), np.float32),
                "lifting_target": seq[length // 2].astype(np.float32),
                "lifting_target_visible": np.ones(17, np.float32),
                "camera_param": {"w": SIZE[0], "h": SIZE[1]},
                "flip_indices": list(range(17)),
            }
        )
    return samples


#: Recipe overrides that make the Human3.6M lifters small enough for tests.
SMALL = {
    "videopose3d-27": ["model.backbone.stem_channels=32", "model.head.in_channels=32"],
    "motionbert": [
        "model.backbone.feat_size=32",
        "model.backbone.depth=1",
        "model.backbone.seq_len=9",
        "model.head.in_channels=32",
        "model.head.embedding_size=32",
    ],
}


def small_lifter_checkpoint(name: str, path: Path, seed: int = 0) -> Path:
    """A random-weight checkpoint of ``recipes/h36m/NAME.toml`` made small by :data:`SMALL`."""
    from posecli.api import build_model, skeleton_metainfo
    from posecli.data.metainfo import load_skeleton
    from posecli.engine.checkpoint import save_checkpoint
    from posecli.recipe import load_recipe

    recipe = load_recipe(RECIPES / f"{name}.toml", SMALL[name])
    torch.manual_seed(seed)
    model = build_model(recipe, pretrained=False).eval()
    save_checkpoint(path, model, recipe, metainfo=skeleton_metainfo(load_skeleton("h36m")))
    return path


def train_mouse_lifter(path: Path, steps: int = 120, seed: int = 0) -> tuple[Path, list[float]]:
    """Train a receptive-field-9 TCN lifter on synthetic mouse projections; save a checkpoint."""
    from posecli.api import build_model, skeleton_metainfo
    from posecli.data.collate import collate
    from posecli.data.metainfo import load_skeleton
    from posecli.data.transforms.target import GenerateTarget
    from posecli.engine.checkpoint import save_checkpoint
    from posecli.recipe.loader import load_recipe_dict, validate_recipe

    data = load_recipe_dict(RECIPES / "videopose3d-27.toml")
    data["name"] = "mouse-lifter-synthetic"
    data["model"]["backbone"].update(stem_channels=64, num_blocks=1, kernel_sizes=[3, 3])
    data["model"]["head"]["in_channels"] = 64
    data["data"] = {"skeleton": "mirror_mouse"}
    data.pop("train", None)
    data["eval"] = {"metrics": []}
    recipe = validate_recipe(data, "synthetic mouse lifter")
    skeleton = load_skeleton("mirror_mouse")
    torch.manual_seed(seed)
    model = build_model(recipe, skeleton, pretrained=False)
    target = GenerateTarget(encoder=recipe.codec.as_dict())
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(seed)
    losses = []
    model.train()
    for _ in range(steps):
        batch = collate([target(s, rng) for s in synthetic_samples(32, 9, rng)])
        loss = model.loss(batch)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    model.eval()
    save_checkpoint(path, model, recipe, metainfo=skeleton_metainfo(skeleton))
    return path, losses
