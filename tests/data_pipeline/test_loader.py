from __future__ import annotations

import numpy as np
import torch

from posecli.data.collate import collate
from posecli.data.datasets.formats import coco, dlc
from posecli.data.loader import EpochSampler, build_dataloader, build_torch_dataset
from posecli.recipe import load_recipe

from .conftest import COCO_MINI, MMPOSE, MOUSE_CSV


def test_every_fifth_frame_is_validation() -> None:
    train = dlc(str(MOUSE_CSV), split="train", val_every=5)
    val = dlc(str(MOUSE_CSV), split="val", val_every=5)
    assert len(train) == 72 and len(val) == 18
    names = [val[i]["img_path"].rsplit("/", 1)[-1] for i in range(len(val))]
    assert names[:3] == ["img05.png", "img10.png", "img15.png"]
    s = val[0]
    np.testing.assert_array_equal(s["bbox"], [[0, 0, 395, 405]])  # whole image, clipped to W-1/H-1


def test_coco_training_filter_and_detections() -> None:
    ds = coco(str(COCO_MINI))
    assert len(ds) == 1 and ds[0]["keypoints"].shape == (1, 17, 2)
    det = coco(str(COCO_MINI), det_file=str(MMPOSE / "test_coco_det_AP_H_56.json"))
    assert len(det) > 1 and all(det[i]["img_id"] == 785 for i in range(len(det)))
    bottom = coco(str(COCO_MINI), mode="bottomup")
    assert bottom[0]["keypoints"].shape[0] == 1


def test_dataloader_batch_contract(recipe_file) -> None:
    recipe = load_recipe(recipe_file)
    loader = build_dataloader(recipe, "train")
    batch = next(iter(loader))
    assert batch["inputs"].shape == (4, 3, 256, 192) and batch["inputs"].dtype == torch.uint8
    assert batch["keypoint_x_labels"].shape == (4, 17, 384)
    assert batch["keypoint_y_labels"].shape == (4, 17, 512)
    assert batch["keypoint_weights"].shape == (4, 17)
    for key, shape in {
        "input_center": (4, 2),
        "input_scale": (4, 2),
        "bbox": (4, 4),
        "bbox_score": (4,),
        "keypoints": (4, 17, 2),
        "keypoints_visible": (4, 17),
    }.items():
        assert batch[key].shape == shape, key
    assert (
        len(batch["meta"]) == 4
        and {"img_path", "id", "img_id", "category_id"} <= batch["meta"][0].keys()
    )
    val = next(iter(build_dataloader(recipe, "val")))
    assert (val["inputs"].shape == (8, 3, 256, 192) and "flip" not in val) or not val["flip"].any()


def test_seeded_loader_reproduces_with_and_without_cache(recipe_file) -> None:
    recipe = load_recipe(recipe_file)
    a = build_torch_dataset(recipe, "train")
    b = build_torch_dataset(recipe, "train")
    c = build_torch_dataset(load_recipe(recipe_file, ["data.train.cache_images=true"]), "train")
    for i in (0, 9):
        x, y, z = a[(i, 2)], b[(i, 2)], c[(i, 2)]
        np.testing.assert_array_equal(x["img"], y["img"])
        np.testing.assert_array_equal(x["img"], z["img"])
        np.testing.assert_array_equal(x["keypoint_x_labels"], z["keypoint_x_labels"])
    assert len(c.cache) == 2
    assert not np.array_equal(a[(0, 1)]["img"], a[(0, 2)]["img"])


def test_epoch_sampler_shuffles_per_epoch_and_shards() -> None:
    s = EpochSampler(10, shuffle=True, seed=0)
    e0, e1 = list(s), list(s)
    assert {e for _, e in e0} == {0} and {e for _, e in e1} == {1}
    assert sorted(i for i, _ in e0) == list(range(10)) and e0 != e1
    shards = [list(EpochSampler(10, shuffle=False, num_replicas=3, rank=r)) for r in range(3)]
    assert all(len(x) == 4 for x in shards)


def test_collate_squeezes_instance_dim_only_where_it_exists() -> None:
    samples = [
        {
            "img": np.zeros((8, 6, 3), np.uint8),
            "heatmaps": np.zeros((1, 4, 3), np.float32),
            "keypoint_weights": np.ones((1, 1), np.float32),
            "keypoints": np.zeros((1, 1, 2), np.float32),
            "img_path": "a.png",
        }
        for _ in range(2)
    ]
    batch = collate(samples)
    assert batch["heatmaps"].shape == (2, 1, 4, 3)  # K = 1 kept
    assert batch["keypoint_weights"].shape == (2, 1)
    assert batch["inputs"].shape == (2, 3, 8, 6)
    assert batch["meta"][0]["img_path"] == "a.png"
