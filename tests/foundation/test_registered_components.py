"""Every registered built-in component, whatever its kind, imports, documents itself and works.

Parametrised over the registries' names, so a component is tested the moment it is registered.
Kinds with richer tests of their own (codecs, backbones, necks, heads, losses, transforms,
skeletons) are exercised further in their test folders; datasets and converters are built
on real sample files here, and detectors are built and run on a tiny image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from posecli.errors import PoseCliError
from posecli.plugins import PluginManager
from tests.data_pipeline.mmpose_fixtures import BY_FORMAT as MMPOSE_FIXTURES

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
MANAGER = PluginManager(autoload=False)
ALL = [(kind, name) for kind, reg in MANAGER.registries.items() for name in reg.names()]

#: A real sample file per dataset/converter format, and what it holds (instances, keypoints).
SAMPLES: dict[str, tuple[Path, int, int]] = {
    "coco": (DATA / "coco-mini" / "person_keypoints_mini.json", 1, 17),
    "dlc": (REPO / "examples" / "mirror-mouse" / "CollectedData.csv", 90, 17),
    "sleap": (REPO / "examples" / "sleap-flies" / "clip.slp", 3000, 13),
    "mpii": (DATA / "mmpose-annotations" / "test_mpii.json", 5, 16),
    "crowdpose": (DATA / "mmpose-annotations" / "test_crowdpose.json", 4, 14),  # 1 of 5 empty
    "aic": (DATA / "mmpose-annotations" / "test_aic.json", 9, 14),
    "h36m": (DATA / "mmpose-tests" / "h36m" / "test_h36m_body3d.npz", 4, 17),
    "mpi_inf_3dhp": (DATA / "mmpose-tests" / "mpi_inf_3dhp" / "test_3dhp_train.npz", 2, 17),
    "h3wb": (DATA / "mmpose-tests" / "h3wb" / "h3wb_train_bbox_subset.npz", 1, 133),
}
# MMPose's fixtures of every catalogued format (training-split samples, keypoints)
SAMPLES.update(
    {n: (f.ann_path, f.train, f.keypoints) for n, f in MMPOSE_FIXTURES.items() if n not in SAMPLES}
)


@pytest.mark.parametrize(("kind", "name"), ALL, ids=[f"{k}:{n}" for k, n in ALL])
def test_every_builtin_imports_and_documents_itself(kind: str, name: str) -> None:
    entry = MANAGER.registry(kind).get(name)
    assert entry.plugin == "posecli"
    assert callable(entry.factory)
    assert entry.help.strip(), f"{kind} {name!r} has no help text"
    for alias in entry.aliases:
        assert MANAGER.registry(kind).get(alias) is entry


def _yolo_sample(tmp_path: Path) -> Path:
    """A YOLO-pose dataset written from the COCO sample (the YAML file)."""
    fmt = MANAGER.registry("converters").build("coco")
    ann = fmt.read(SAMPLES["coco"][0], images=str(DATA / "coco-mini" / "images"))
    written = MANAGER.registry("converters").build("yolo").write(ann, tmp_path / "yolo")
    return next(p for p in written if p.suffix in (".yaml", ".yml"))


@pytest.mark.parametrize("name", MANAGER.registry("datasets").names())
def test_every_dataset_builds_on_a_real_file(name: str, tmp_path: Path) -> None:
    assert name in SAMPLES or name in ("yolo", "combined"), f"add a sample for dataset {name!r}"
    if name == "yolo":
        dataset = MANAGER.registry("datasets").build("yolo", ann_file=str(_yolo_sample(tmp_path)))
        n, k = 1, 17
    elif name == "combined":  # COCO (1) and CrowdPose (4 of 5) mapped by keypoint names
        parts = [{"name": p, "ann_file": str(SAMPLES[p][0])} for p in ("coco", "crowdpose")]
        dataset = MANAGER.registry("datasets").build(name, datasets=parts, skeleton="coco")
        n, k = 5, 17
    else:
        path, n, k = SAMPLES[name]
        dataset = MANAGER.registry("datasets").build(name, ann_file=str(path))
    assert len(dataset) == n
    sample = dataset[0]
    assert np.asarray(sample["keypoints"]).shape[-2:] == (k, 2)


@pytest.mark.parametrize("name", MANAGER.registry("converters").names())
def test_every_converter_reads_and_round_trips(name: str, tmp_path: Path) -> None:
    fmt = MANAGER.registry("converters").build(name)
    src = _yolo_sample(tmp_path) if name == "yolo" else SAMPLES[name][0]
    ann = fmt.read(src)
    assert ann.num_instances >= 1
    if fmt.writer is not None:
        out = tmp_path / ("out" if name == "yolo" else f"out.{'csv' if name == 'dlc' else 'json'}")
        written = fmt.write(ann, out)
        again = fmt.read(next(p for p in written if p.suffix in (".yaml", ".csv", ".json")))
        assert again.num_instances == ann.num_instances
        np.testing.assert_allclose(
            np.nan_to_num(again.keypoints), np.nan_to_num(ann.keypoints), atol=1e-3
        )


@pytest.mark.slow
@pytest.mark.parametrize("name", MANAGER.registry("detectors").names())
def test_every_detector_builds_and_runs_randomly_initialised(name: str) -> None:
    if name == "bottomup":  # a trained posecli checkpoint is its network: tests/flies runs it
        with pytest.raises(PoseCliError, match="pass --detector-weights"):
            MANAGER.registry("detectors").build(name)
        return
    detector = MANAGER.registry("detectors").build(name)
    boxes, scores = detector(np.zeros((64, 80, 3), np.uint8))
    assert boxes.shape[1:] == (4,) and scores.shape == boxes.shape[:1]
