"""Skeletons (dataset metainfo) as TOML data files, and the :class:`Skeleton` they load into.

File format (one file per skeleton, see ``coco.toml``)::

    name = "coco"
    description = "COCO person keypoints (17)"
    keypoints = [
      { name = "nose", color = [51, 153, 255], type = "upper", sigma = 0.026 },
      { name = "left_eye", color = [0, 255, 0], type = "upper", swap = "right_eye", sigma = 0.025 },
      ...
    ]
    links = [ { link = ["left_ankle", "left_knee"], color = [0, 255, 0] }, ... ]

Per keypoint: ``name`` (required), ``color`` (RGB, default white), ``type`` (``"upper"``,
``"lower"`` or absent), ``swap`` (the left/right partner's name, absent if none), ``weight``
(joint weight, default 1.0), ``sigma`` (OKS sigma; give it for all keypoints or none). Links
name two keypoints. Derived: ``flip_indices`` (self where no partner), upper/lower body ids.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from posecli.errors import DataError, UnknownNameError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

METAINFO_DIR = Path(__file__).resolve().parent

#: Built-in skeleton names (each a ``<name>.toml`` beside this module).
BUILTIN_SKELETONS: tuple[str, ...] = (
    "aflw",
    "aic",
    "ak",
    "animalpose",
    "ap10k",
    "atrw",
    "coco",
    "coco_wholebody",
    "coco_wholebody_face",
    "coco_wholebody_hand",
    "cofw",
    "crowdpose",
    "deepfashion2",
    "deepfashion_full",
    "deepfashion_lower",
    "deepfashion_upper",
    "exlpose",
    "face_300vw",
    "face_300w",
    "face_300wlp",
    "fly",
    "freihand",
    "halpe",
    "horse10",
    "humanart",
    "humanart21",
    "interhand2d",
    "interhand2d_double",
    "jhmdb",
    "lapa",
    "locust",
    "macaque",
    "mhp",
    "mirror_mouse",
    "mpii",
    "mpii_trb",
    "ochuman",
    "onehand10k",
    "panoptic_hand2d",
    "posetrack18",
    "rhd",
    "sleap_fly13",
    "sleap_fly_anchor",
    "ubody2d",
    "wflw",
    "zebra",
)

_WHITE = (255, 255, 255)


@dataclass(frozen=True)
class Skeleton:
    """Keypoint definition of a dataset: names, flips, body halves, links, weights, sigmas.

    Attributes:
        name: skeleton name (``"coco"``).
        keypoint_names: the K names, in keypoint order.
        flip_indices: (K,) index of each keypoint's left/right partner (itself if none).
        upper_body_ids / lower_body_ids: keypoint indices of each body half (may be empty).
        links: pairs of keypoint indices drawn as bones.
        keypoint_colors: (K, 3) uint8 RGB; link_colors: (L, 3) uint8 RGB.
        joint_weights: (K,) float32 loss weights; sigmas: (K,) float32 OKS sigmas or (0,) if the
            dataset defines none.
        description: one line for ``posecli list skeletons``; source: file it came from.
        detail_ids: keypoints of dense parts (face, hands) that renderers draw smaller, with
            thinner links (TOML: ``detail = [["face-0", "face-67"], ...]``, inclusive name
            ranges in keypoint order).
    """

    name: str
    keypoint_names: tuple[str, ...]
    flip_indices: tuple[int, ...]
    upper_body_ids: tuple[int, ...] = ()
    lower_body_ids: tuple[int, ...] = ()
    links: tuple[tuple[int, int], ...] = ()
    keypoint_colors: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.uint8))
    link_colors: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.uint8))
    joint_weights: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    sigmas: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    description: str = ""
    source: str = ""
    detail_ids: tuple[int, ...] = ()

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoint_names)

    def index(self, name: str) -> int:
        """Index of keypoint ``name``."""
        try:
            return self.keypoint_names.index(name)
        except ValueError:
            raise DataError(f"skeleton {self.name!r} has no keypoint {name!r}") from None

    def to_metainfo(self) -> dict[str, Any]:
        """Plain-Python dict (JSON/TOML/checkpoint friendly), the inverse of :func:`skeleton_from_dict`."""
        return {
            "name": self.name,
            "description": self.description,
            "keypoints": [self._keypoint_entry(i) for i in range(self.num_keypoints)],
            "links": [
                {
                    "link": [self.keypoint_names[a], self.keypoint_names[b]],
                    "color": [int(c) for c in self.link_colors[j]],
                }
                for j, (a, b) in enumerate(self.links)
            ],
            **({"detail": self._detail_ranges()} if self.detail_ids else {}),
        }

    def _detail_ranges(self) -> list[list[str]]:
        """:attr:`detail_ids` as inclusive ``[first, last]`` name ranges."""
        ranges: list[list[int]] = []
        for i in sorted(self.detail_ids):
            if ranges and ranges[-1][1] == i - 1:
                ranges[-1][1] = i
            else:
                ranges.append([i, i])
        return [[self.keypoint_names[a], self.keypoint_names[b]] for a, b in ranges]

    def _keypoint_entry(self, i: int) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": self.keypoint_names[i],
            "color": [int(c) for c in self.keypoint_colors[i]],
        }
        if i in self.upper_body_ids:
            entry["type"] = "upper"
        elif i in self.lower_body_ids:
            entry["type"] = "lower"
        if self.flip_indices[i] != i:
            entry["swap"] = self.keypoint_names[self.flip_indices[i]]
        if float(self.joint_weights[i]) != 1.0:
            entry["weight"] = float(self.joint_weights[i])
        if len(self.sigmas):
            entry["sigma"] = float(self.sigmas[i])
        return entry


def skeleton_from_dict(data: Mapping[str, Any], source: str = "<dict>") -> Skeleton:
    """Build a :class:`Skeleton` from the TOML structure; errors name ``source``."""
    name = str(data.get("name") or Path(source).stem)
    kps = data.get("keypoints")
    if not isinstance(kps, list) or not kps:
        raise DataError(f"{source}: skeleton needs a non-empty 'keypoints' list")
    names: list[str] = []
    for i, kp in enumerate(kps):
        if isinstance(kp, str):
            kp = {"name": kp}
        if not isinstance(kp, Mapping) or "name" not in kp:
            raise DataError(f"{source}: keypoints[{i}]: needs a 'name'")
        names.append(str(kp["name"]))
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise DataError(f"{source}: keypoint name {dup!r} appears twice")
    lookup = {n: i for i, n in enumerate(names)}
    entries = [kp if isinstance(kp, Mapping) else {"name": kp} for kp in kps]
    flip = list(range(len(names)))
    upper, lower = [], []
    for i, kp in enumerate(entries):
        swap = kp.get("swap") or ""
        if swap:
            if swap not in lookup:
                raise DataError(f"{source}: keypoint {names[i]!r}: swap partner {swap!r} unknown")
            flip[i] = lookup[swap]
        kind = kp.get("type", "") or ""
        if kind == "upper":
            upper.append(i)
        elif kind == "lower":
            lower.append(i)
        elif kind:
            raise DataError(f"{source}: keypoint {names[i]!r}: type must be 'upper' or 'lower'")
    for i, j in enumerate(flip):
        if flip[j] != i:
            raise DataError(
                f"{source}: swap of {names[i]!r} is {names[j]!r} but not the other way round"
            )
    sig = [kp.get("sigma") for kp in entries]
    if any(s is not None for s in sig) and not all(s is not None for s in sig):
        raise DataError(f"{source}: give 'sigma' for every keypoint or for none")
    links, link_colors = [], []
    for j, ln in enumerate(data.get("links", []) or []):
        pair = ln.get("link") if isinstance(ln, Mapping) else ln
        if not isinstance(pair, Sequence) or len(pair) != 2:
            raise DataError(f"{source}: links[{j}]: expected two keypoint names")
        try:
            a, b = (p if isinstance(p, int) else lookup[p] for p in pair)
        except KeyError as exc:
            raise DataError(f"{source}: links[{j}]: unknown keypoint {exc.args[0]!r}") from None
        links.append((int(a), int(b)))
        color = ln.get("color", _WHITE) if isinstance(ln, Mapping) else _WHITE
        link_colors.append(color)
    return Skeleton(
        name=name,
        keypoint_names=tuple(names),
        flip_indices=tuple(flip),
        upper_body_ids=tuple(upper),
        lower_body_ids=tuple(lower),
        links=tuple(links),
        keypoint_colors=np.array([kp.get("color", _WHITE) for kp in entries], np.uint8).reshape(
            -1, 3
        ),
        link_colors=np.array(link_colors, np.uint8).reshape(-1, 3),
        joint_weights=np.array([kp.get("weight", 1.0) for kp in entries], np.float32),
        sigmas=np.array(sig if sig and sig[0] is not None else [], np.float32),
        description=str(data.get("description", "")),
        source=source,
        detail_ids=_detail_ids(data.get("detail"), lookup, source),
    )


def _detail_ids(ranges: Any, lookup: Mapping[str, int], source: str) -> tuple[int, ...]:
    """Keypoint indices of ``detail = [[first, last], ...]`` (inclusive name ranges)."""
    if not ranges:
        return ()
    ids: list[int] = []
    for j, pair in enumerate(ranges):
        if not isinstance(pair, Sequence) or isinstance(pair, str) or len(pair) != 2:
            raise DataError(f"{source}: detail[{j}]: expected [first, last] keypoint names")
        try:
            a, b = (lookup[str(n)] for n in pair)
        except KeyError as exc:
            raise DataError(f"{source}: detail[{j}]: unknown keypoint {exc.args[0]!r}") from None
        if b < a:
            raise DataError(f"{source}: detail[{j}]: {pair[1]!r} comes before {pair[0]!r}")
        ids.extend(range(a, b + 1))
    return tuple(sorted(set(ids)))


def load_skeleton_file(path: str | Path) -> Skeleton:
    """Read one skeleton TOML file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: skeleton file not found") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise DataError(f"{path}: cannot read skeleton: {exc}") from None
    return skeleton_from_dict(data, source=str(path))


def builtin_skeleton(name: str) -> Skeleton:
    """Load a built-in skeleton by file name (used as the registered factory)."""
    return load_skeleton_file(METAINFO_DIR / f"{name}.toml")


def load_skeleton(name_or_path: str | Path | Skeleton | Mapping[str, Any]) -> Skeleton:
    """A skeleton from a registered name (or alias), a ``.toml`` file, or a dict.

    Raises:
        DataError: unknown name (with close matches) or a malformed file.
    """
    if isinstance(name_or_path, Skeleton):
        return name_or_path
    if isinstance(name_or_path, Mapping):
        return skeleton_from_dict(name_or_path)
    text = str(name_or_path)
    if text.endswith(".toml") or Path(text).is_file():
        return load_skeleton_file(text)
    from posecli.plugins import registry

    try:
        entry = registry("skeletons").get(text)
    except UnknownNameError as exc:
        raise DataError(str(exc)) from None
    skeleton = entry.factory()
    if not isinstance(skeleton, Skeleton):
        skeleton = load_skeleton(skeleton)
    return skeleton


def infer_skeleton(
    names: Sequence[str],
    links: Sequence[tuple[int, int]] = (),
    *,
    name: str = "inferred",
    source: str = "",
    warn: bool = True,
) -> Skeleton:
    """A skeleton from keypoint names only: no flips, no body halves, unit weights, no sigmas.

    Warns (``UserWarning``) because flip augmentation and OKS need a real skeleton file.
    """
    if warn:
        where = f" for {source}" if source else ""
        warnings.warn(
            f"no skeleton given{where}: inferred {len(names)} keypoints from the data with no "
            "left/right swaps (random flips only mirror coordinates) and no OKS sigmas; pass "
            "--skeleton NAME|FILE (or data.skeleton) for a real one",
            UserWarning,
            stacklevel=2,
        )
    data = {
        "name": name,
        "keypoints": [{"name": str(n)} for n in names],
        "links": [{"link": [int(a), int(b)]} for a, b in links],
    }
    return skeleton_from_dict(data, source=source or name)


def match_skeleton(names: Sequence[str]) -> Skeleton | None:
    """The built-in skeleton whose keypoint names equal ``names`` (case/space-insensitive)."""
    want = tuple(_norm(n) for n in names)
    for candidate in BUILTIN_SKELETONS:
        skel = builtin_skeleton(candidate)
        if tuple(_norm(n) for n in skel.keypoint_names) == want:
            return skel
    return None


def _norm(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


def skeleton_to_toml(skeleton: Skeleton) -> str:
    """Serialise ``skeleton`` in the TOML file format (one keypoint / link per line)."""

    def val(v: Any) -> str:
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, list):
            return "[" + ", ".join(val(x) for x in v) + "]"
        return repr(v)

    meta = skeleton.to_metainfo()
    lines = [f"name = {val(meta['name'])}", f"description = {val(meta['description'])}"]
    lines.append("keypoints = [")
    for kp in meta["keypoints"]:
        lines.append("  { " + ", ".join(f"{k} = {val(v)}" for k, v in kp.items()) + " },")
    lines += ["]", "links = ["]
    for ln in meta["links"]:
        lines.append("  { " + ", ".join(f"{k} = {val(v)}" for k, v in ln.items()) + " },")
    lines.append("]")
    return "\n".join(lines) + "\n"


__all__ = [
    "BUILTIN_SKELETONS",
    "METAINFO_DIR",
    "Skeleton",
    "builtin_skeleton",
    "infer_skeleton",
    "load_skeleton",
    "load_skeleton_file",
    "match_skeleton",
    "skeleton_from_dict",
    "skeleton_to_toml",
]


def __getattr__(name: str) -> Any:
    """``posecli.data.metainfo:<name>`` factories for the lazy skeleton registrations."""
    if name in BUILTIN_SKELETONS:

        def factory() -> Skeleton:
            return builtin_skeleton(name)

        factory.__doc__ = f"Built-in skeleton {name!r} ({name}.toml)."
        return factory
    raise AttributeError(name)
