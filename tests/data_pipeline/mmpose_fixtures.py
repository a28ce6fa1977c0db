"""MMPose's dataset fixtures bundled in ``tests/data/mmpose-tests`` (Apache-2.0, see its LICENSE):
one row per (format, file) with what the file holds.

Columns: format name, annotation file (or folder), image folder, instances read in test mode,
keypoints per instance, samples of the training split (instances with labels and a box).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[2] / "tests" / "data" / "mmpose-tests"


class Fixture(NamedTuple):
    fmt: str
    ann: str
    images: str
    instances: int
    keypoints: int
    train: int

    @property
    def ann_path(self) -> Path:
        return ROOT / self.ann

    @property
    def image_dir(self) -> Path:
        return ROOT / self.images

    @property
    def id(self) -> str:
        return f"{self.fmt}:{Path(self.ann).name}"


FIXTURES: tuple[Fixture, ...] = (
    # body
    Fixture("coco", "coco/test_coco.json", "coco", 14, 17, 12),
    Fixture("coco_wholebody", "coco/test_coco_wholebody.json", "coco", 14, 133, 12),
    Fixture("ubody2d", "coco/test_coco_wholebody.json", "coco", 14, 133, 12),
    Fixture("halpe", "halpe/test_halpe.json", "coco", 14, 136, 12),
    Fixture("ochuman", "ochuman/test_ochuman.json", "ochuman", 5, 17, 5),
    Fixture("crowdpose", "crowdpose/test_crowdpose.json", "crowdpose", 5, 14, 4),
    Fixture("aic", "aic/test_aic.json", "aic", 9, 14, 9),
    Fixture("mpii", "mpii/test_mpii.json", "mpii", 5, 16, 5),
    Fixture("mpii_trb", "mpii/test_mpii_trb.json", "mpii", 5, 40, 5),
    Fixture("mhp", "mhp/test_mhp.json", "mhp", 4, 16, 4),
    Fixture("jhmdb", "jhmdb/test_jhmdb_sub1.json", "jhmdb", 3, 15, 3),
    Fixture(
        "posetrack18",
        "posetrack18/annotations/test_posetrack18_val.json",
        "posetrack18",
        14,
        17,
        14,
    ),
    Fixture("posetrack18", "posetrack18/annotations/val", "posetrack18", 14, 17, 14),
    Fixture("humanart", "humanart/test_humanart.json", "humanart", 4, 17, 4),
    Fixture("humanart21", "humanart/test_humanart.json", "humanart", 4, 21, 4),
    Fixture("exlpose", "exlpose/test_exlpose.json", "exlpose", 6, 14, 6),
    # face
    Fixture("face_300w", "300w/test_300w.json", "300w", 2, 68, 2),
    Fixture("face_300wlp", "300wlp/test_300wlp.json", "300wlp", 2, 68, 2),
    Fixture("face_300vw", "300vw/anno_300vw.json", "300vw", 3, 68, 3),
    Fixture("wflw", "wflw/test_wflw.json", "wflw", 4, 98, 4),
    Fixture("aflw", "aflw/test_aflw.json", "aflw", 2, 19, 2),
    Fixture("cofw", "cofw/test_cofw.json", "cofw", 2, 29, 2),
    Fixture("lapa", "lapa/test_lapa.json", "lapa", 2, 106, 2),
    Fixture("coco_wholebody_face", "coco/test_coco_wholebody.json", "coco", 4, 68, 4),
    # hand
    Fixture("onehand10k", "onehand10k/test_onehand10k.json", "onehand10k", 4, 21, 4),
    Fixture("freihand", "freihand/test_freihand.json", "freihand", 8, 21, 8),
    Fixture("rhd", "rhd/test_rhd.json", "rhd", 3, 21, 3),
    Fixture("panoptic_hand2d", "panoptic/test_panoptic.json", "panoptic", 4, 21, 4),
    Fixture("coco_wholebody_hand", "coco/test_coco_wholebody.json", "coco", 10, 21, 10),
    Fixture("interhand2d", "interhand2.6m/test_interhand2.6m_data.json", "interhand2.6m", 4, 42, 4),
    # animal
    Fixture("ap10k", "ap10k/test_ap10k.json", "ap10k", 2, 17, 2),
    Fixture("animalpose", "animalpose/test_animalpose.json", "animalpose", 2, 20, 2),
    Fixture("macaque", "macaque/test_macaque.json", "macaque", 2, 17, 2),
    Fixture("horse10", "horse10/test_horse10.json", "horse10", 3, 22, 3),
    Fixture("fly", "fly/test_fly.json", "fly", 2, 32, 2),
    Fixture("locust", "locust/test_locust.json", "locust", 2, 35, 2),
    Fixture("zebra", "zebra/test_zebra.json", "zebra", 2, 9, 2),
    Fixture("atrw", "atrw/test_atrw.json", "atrw", 2, 15, 2),
    Fixture("ak", "ak/test_animalkingdom.json", "ak", 2, 23, 2),
    # fashion
    Fixture("deepfashion2", "deepfasion2/deepfasion2.json", "deepfasion2", 2, 294, 2),
    Fixture("deepfashion", "fld/test_fld.json", "fld", 2, 8, 2),
)

#: One fixture per format (the first listed), for the registry-wide tests.
BY_FORMAT: dict[str, Fixture] = {}
for _f in FIXTURES:
    BY_FORMAT.setdefault(_f.fmt, _f)
