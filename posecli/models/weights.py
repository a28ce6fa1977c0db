"""Pretrained weight sources: local paths, ``https://`` (cached), ``torchvision://``, ``mmpose://``.

Downloads go to the cache directory (``$POSECLI_CACHE_DIR`` or ``~/.cache/posecli/weights``):
written to ``<file>.part`` (resumed with an HTTP Range request if interrupted), sha256-checked
(full hash or prefix, given explicitly or read from a ``-<hex8>`` file-name suffix as used by
MMPose and torchvision), then renamed into place atomically. With ``POSECLI_OFFLINE=1`` (or when
the network fails) a missing file is a one-line error naming the URL and the cache path.
Files are always read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from posecli.errors import CheckpointError

MMPOSE_URL = "https://download.openmmlab.com/mmpose/v1"

#: ``mmpose://NAME`` → URL of a published MMPose checkpoint.
MMPOSE_CHECKPOINTS: dict[str, str] = {
    "rtmpose-t": f"{MMPOSE_URL}/projects/rtmposev1/rtmpose-tiny_simcc-coco_pt-aic-coco_420e-256x192-e613ba3f_20230127.pth",
    "rtmpose-s": f"{MMPOSE_URL}/projects/rtmposev1/rtmpose-s_simcc-coco_pt-aic-coco_420e-256x192-8edcf0d7_20230127.pth",
    "rtmpose-m": f"{MMPOSE_URL}/projects/rtmposev1/rtmpose-m_simcc-coco_pt-aic-coco_420e-256x192-d8dd5ca4_20230127.pth",
    "rtmpose-l": f"{MMPOSE_URL}/projects/rtmposev1/rtmpose-l_simcc-coco_pt-aic-coco_420e-256x192-1352a4d2_20230127.pth",
    "hrnet-w32": f"{MMPOSE_URL}/body_2d_keypoint/topdown_heatmap/coco/td-hm_hrnet-w32_8xb64-210e_coco-256x192-81c58e40_20220909.pth",
    "res50": f"{MMPOSE_URL}/body_2d_keypoint/topdown_heatmap/coco/td-hm_res50_8xb64-210e_coco-256x192-04af38ce_20220923.pth",
    # one-stage RTMO on COCO 640×640 (recipes/coco/rtmo-*.toml)
    "rtmo-s": f"{MMPOSE_URL}/projects/rtmo/rtmo-s_8xb32-600e_coco-640x640-8db55a59_20231211.pth",
    "rtmo-m": f"{MMPOSE_URL}/projects/rtmo/rtmo-m_16xb16-600e_coco-640x640-6f4e0306_20231211.pth",
    "rtmo-l": f"{MMPOSE_URL}/projects/rtmo/rtmo-l_16xb16-600e_coco-640x640-516a421f_20231211.pth",
    # 2D→3D lifters on Human3.6M (recipes/h36m/*.toml); the TCN ones are MMPose 0.x files
    # (keypoint_head.* keys, renamed on load)
    "simplebaseline3d": "https://download.openmmlab.com/mmpose/body3d/simple_baseline/simple3Dbaseline_h36m-f0ad73a4_20210419.pth",
    "videopose3d-27": "https://download.openmmlab.com/mmpose/body3d/videopose/videopose_h36m_27frames_fullconv_supervised-fe8fbba9_20210527.pth",
    "videopose3d-243": "https://download.openmmlab.com/mmpose/body3d/videopose/videopose_h36m_243frames_fullconv_supervised-880bea25_20210527.pth",
    "motionbert": f"{MMPOSE_URL}/body_3d_keypoint/pose_lift/h36m/motionbert_h36m-f554954f_20230531.pth",
}

_HASH_IN_NAME = re.compile(r"-([0-9a-f]{8,64})(?:_\d{8})?\.(?:pth|pt|ckpt)$")
_CHUNK = 1 << 20


def cache_dir() -> Path:
    """The weights cache directory."""
    env = os.environ.get("POSECLI_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "posecli" / "weights"


def _offline() -> bool:
    return os.environ.get("POSECLI_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def hash_prefix_from_name(url_or_name: str) -> str | None:
    """The sha256 prefix embedded in a checkpoint file name (``...-e613ba3f_20230127.pth``)."""
    match = _HASH_IN_NAME.search(url_or_name.rsplit("/", 1)[-1])
    return match.group(1) if match else None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(url: str, dest: Path, sha256: str | None = None, timeout: float = 30.0) -> Path:
    """Download ``url`` to ``dest`` (resumable via ``dest.part``, checked, atomic rename)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "posecli"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = getattr(response, "status", 200)
            mode = "ab" if have and status == 206 else "wb"
            expected = response.headers.get("Content-Length")
            got = 0
            with open(part, mode) as fh:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    fh.write(chunk)
                    got += len(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            if expected is not None and got < int(expected):
                raise http.client.IncompleteRead(b"", int(expected) - got)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # already complete
            pass
        else:
            raise CheckpointError(
                f"cannot download {url}: HTTP {exc.code}; place the file at {dest}"
            ) from None
    except (urllib.error.URLError, http.client.HTTPException, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}"
        raise CheckpointError(
            f"cannot download {url} ({reason}); partial data kept in {part}, "
            f"or place the file at {dest}"
        ) from None
    if sha256:
        actual = sha256_of(part)
        if not actual.startswith(sha256.lower()):
            part.unlink(missing_ok=True)
            raise CheckpointError(
                f"sha256 mismatch for {url}: expected {sha256}..., got {actual[: len(sha256)]}... "
                "(corrupt or changed download; removed)"
            )
    os.replace(part, dest)
    return dest


def fetch(url: str, sha256: str | None = None, directory: Path | None = None) -> Path:
    """The cached file for ``url``, downloading it once (unless offline)."""
    dest = (directory or cache_dir()) / url.rsplit("/", 1)[-1].split("?", 1)[0]
    if dest.is_file():
        return dest
    if _offline():
        raise CheckpointError(f"offline and not cached: {url}; place the file at {dest}")
    return download(url, dest, sha256 or hash_prefix_from_name(url))


def torchvision_url(name: str) -> str:
    """URL of ``torchvision://NAME``: a weights enum (``ResNet50_Weights.IMAGENET1K_V1``) or a
    model name (``resnet50``, its default weights)."""
    from torchvision import models

    try:
        weights = models.get_weight(name) if "." in name else models.get_model_weights(name).DEFAULT
    except (ValueError, KeyError, AttributeError) as exc:
        raise CheckpointError(
            f"torchvision://{name}: unknown torchvision weights ({exc})"
        ) from None
    return str(weights.url)


def resolve_source(source: str, sha256: str | None = None) -> Path:
    """A local file for a weights ``source`` (path, https://, torchvision://, mmpose://)."""
    if source.startswith("mmpose://"):
        name = source[len("mmpose://") :]
        if name not in MMPOSE_CHECKPOINTS:
            raise CheckpointError(
                f"unknown {source}; known: {', '.join(sorted(MMPOSE_CHECKPOINTS))}"
            )
        return fetch(MMPOSE_CHECKPOINTS[name], sha256)
    if source.startswith("torchvision://"):
        return fetch(torchvision_url(source[len("torchvision://") :]), sha256)
    if source.startswith(("https://", "http://")):
        return fetch(source, sha256)
    path = Path(source).expanduser()
    if not path.is_file():
        raise CheckpointError(f"weights file not found: {path}")
    if sha256 and not sha256_of(path).startswith(sha256.lower()):
        raise CheckpointError(f"sha256 mismatch for {path}: expected {sha256}...")
    return path


def torch_load(path: str | Path) -> Any:
    """``torch.load(weights_only=True)`` on CPU; also accepts numpy arrays in metadata."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"file not found: {path}") from None
    except Exception as first:
        try:
            with torch.serialization.safe_globals(_numpy_globals()):
                return torch.load(path, map_location="cpu", weights_only=True)
        except Exception:
            from posecli.engine.checkpoint import load_failure

            raise load_failure(path, first) from None


def _numpy_globals() -> list[Any]:
    import numpy as np

    items: list[Any] = [np.ndarray, np.dtype]
    try:
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct, scalar  # type: ignore[no-redef]
    items += [_reconstruct, scalar]
    items += [type(np.dtype(t)) for t in ("f4", "f8", "i4", "i8", "u1", "b1")]
    return items


def extract_state_dict(obj: Any, prefer_ema: bool = True) -> dict[str, torch.Tensor]:
    """The tensor state dict inside a loaded file.

    Handles a bare state dict, MMPose's container (``meta`` + ``state_dict``), mmengine training
    checkpoints (``ema_state_dict`` with ``module.`` keys and a ``steps`` entry) and posecli
    checkpoints (``ema_state_dict`` preferred when ``prefer_ema``). A ``module.`` prefix from
    DataParallel is removed.
    """
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"not a state dict or checkpoint container ({type(obj).__name__})")
    sd: Any = obj
    if prefer_ema and isinstance(obj.get("ema_state_dict"), Mapping):
        sd = obj["ema_state_dict"]
    elif isinstance(obj.get("state_dict"), Mapping):
        sd = obj["state_dict"]
    elif isinstance(obj.get("model"), Mapping):
        sd = obj["model"]
    out = {k: v for k, v in sd.items() if isinstance(v, torch.Tensor) and k != "steps"}
    if out and all(k.startswith("module.") for k in out):
        out = {k[len("module.") :]: v for k, v in out.items()}
    if not out:
        raise CheckpointError("no tensors found in the checkpoint")
    return out


def take_prefix(state: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """Keys under ``prefix`` with the prefix removed (all keys when ``prefix`` is empty)."""
    if not prefix:
        return dict(state)
    taken = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    if not taken:
        raise CheckpointError(f"no keys start with prefix {prefix!r}")
    return taken


def load_weights_into(
    module: torch.nn.Module, state: Mapping[str, torch.Tensor], strict: bool, what: str
) -> tuple[list[str], list[str]]:
    """Load ``state`` into ``module``; shape mismatches are errors; returns (missing, unexpected).

    With ``strict``, any missing or unexpected key is an error naming the first few.
    """
    own = module.state_dict()
    bad = [
        f"{k} {tuple(v.shape)} vs {tuple(own[k].shape)}"
        for k, v in state.items()
        if k in own and own[k].shape != v.shape
    ]
    if bad:
        raise CheckpointError(
            f"{what}: shape mismatch: {', '.join(bad[:3])}"
            + (f" (+{len(bad) - 3} more)" if len(bad) > 3 else "")
        )
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if strict and (missing or unexpected):
        raise CheckpointError(
            f"{what}: {len(missing)} missing keys {missing[:3]}, "
            f"{len(unexpected)} unexpected keys {unexpected[:3]}"
        )
    module.load_state_dict(dict(state), strict=False)
    return missing, unexpected


def load_pretrained(
    model: torch.nn.Module,
    source: str,
    *,
    prefix: str = "",
    into: str = "",
    strict: bool = False,
    sha256: str | None = None,
) -> tuple[list[str], list[str]]:
    """Load pretrained weights from ``source`` (keys under ``prefix``) into submodule ``into``."""
    from posecli.models.mmpose_compat import convert_mmpose_keys

    path = resolve_source(source, sha256)
    state = convert_mmpose_keys(extract_state_dict(torch_load(path)))
    state = take_prefix(state, prefix)
    target = model.get_submodule(into) if into else model
    return load_weights_into(target, state, strict, f"pretrained {source}")
