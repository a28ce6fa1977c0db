"""A tiny RTMPose-style checkpoint for the mouse skeleton (random weights), built in seconds."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def tiny_recipe_dict(input_size: int = 96, flip_test: bool = True) -> dict:
    """``recipes/rtmpose.toml`` with a CSPNeXt backbone of width 1/8 and a small GAU head."""
    from posecli.recipe.loader import load_recipe_dict

    data = load_recipe_dict(REPO / "recipes" / "rtmpose.toml")
    size = [input_size, input_size]
    data["codec"]["input_size"] = size
    data["model"]["backbone"] = {
        "name": "cspnext",
        "arch": "P5",
        "expand_ratio": 0.5,
        "deepen_factor": 0.167,
        "widen_factor": 0.125,
        "out_indices": [4],
        "channel_attention": True,
        "act": "silu",
    }
    for key in ("soft_argmax_beta", "soft_argmax_window"):  # plain MMPose decode
        data["codec"].pop(key, None)
    head = data["model"]["head"]
    for key in ("aux_heatmap_weight", "heatmap_prior"):  # plain MMPose RTMCC head
        head.pop(key, None)
    head.update(
        in_channels=128,
        input_size=size,
        in_featuremap_size=[input_size // 32, input_size // 32],
        gau_cfg={
            "hidden_dims": 32,
            "s": 32,
            "expansion_factor": 2,
            "dropout_rate": 0.0,
            "drop_path": 0.0,
            "act_fn": "SiLU",
            "use_rel_bias": False,
            "pos_enc": False,
        },
    )
    data["model"]["test"] = {"flip_test": flip_test}
    for split in ("train", "val"):
        data["data"][split]["dataset"]["ann_file"] = str(
            REPO / "examples/mirror-mouse/CollectedData.csv"
        )
    return data


def make_tiny_checkpoint(path: Path, *, seed: int = 0, input_size: int = 96) -> Path:
    """Save a randomly initialised tiny model (mouse skeleton) as a posecli checkpoint."""
    import torch

    from posecli.api import build_model, skeleton_metainfo
    from posecli.data.metainfo import load_skeleton
    from posecli.engine.checkpoint import save_checkpoint
    from posecli.recipe.loader import validate_recipe

    recipe = validate_recipe(tiny_recipe_dict(input_size), "tiny test recipe")
    skeleton = load_skeleton(recipe.data.skeleton)
    torch.manual_seed(seed)
    model = build_model(recipe, skeleton, pretrained=False)
    save_checkpoint(path, model, recipe, metainfo=skeleton_metainfo(skeleton))
    return path
