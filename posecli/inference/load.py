"""Loading a :class:`~posecli.runtime.Predictor`: a checkpoint, a zoo model or an exported file,
on the backend asked for (``auto``, ``torch``, ``onnxruntime``, ``torchscript``).

``auto``: exported files run on their own runtime; a checkpoint runs in PyTorch on CUDA and,
on the CPU, in ONNX Runtime when it is installed — exported once into the cache
(``$POSECLI_CACHE_DIR/exported`` or ``~/.cache/posecli/exported``, keyed by the checkpoint's
SHA-256), with the export's parity check against the PyTorch predictor, flip test included.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

from posecli.errors import CheckpointError, PoseCliError
from posecli.runtime import Predictor, TopDownSpec, cache_dir, is_exported_model, open_exported
from posecli.runtime.backends import open_backend
from posecli.runtime.spec import SPEC_VERSION

__all__ = [
    "BACKEND_CHOICES",
    "export_cache_dir",
    "load_pose_model",
    "load_predictor",
    "resolve_device",
    "torch_predictor",
]

log = logging.getLogger(__name__)

BACKEND_CHOICES = ("auto", "torch", "onnxruntime", "torchscript")
_SUFFIX = {"onnxruntime": ".onnx", "torchscript": ".ts"}
_FORMAT = {"onnxruntime": "onnx", "torchscript": "torchscript"}


def resolve_device(device: str = "auto") -> str:
    """``auto`` → ``cuda`` when torch sees a GPU, else ``cpu``; ``cuda``/``cuda:N`` checked."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise PoseCliError(f"--device: {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise PoseCliError(f"--device {device}: CUDA is not available on this machine")
    return str(dev)


def export_cache_dir() -> Path:
    """Where ``--backend auto`` keeps exported checkpoints."""
    return cache_dir() / "exported"


def _zoo_recipe(name: str) -> Path:
    from posecli.recipe.loader import SHIPPED_RECIPES

    path = SHIPPED_RECIPES / "coco" / f"{name}.toml"
    if path.is_file():
        return path
    raise CheckpointError(f"mmpose://{name}: no shipped recipe coco/{name}.toml to build it from")


def _is_zoo(text: str) -> str | None:
    from posecli.models.weights import MMPOSE_CHECKPOINTS

    name = text.removeprefix("mmpose://")
    if text.startswith("mmpose://") or (name in MMPOSE_CHECKPOINTS and not Path(text).exists()):
        if name not in MMPOSE_CHECKPOINTS:
            raise CheckpointError(
                f"unknown model {name!r}; known: {', '.join(sorted(MMPOSE_CHECKPOINTS))}"
            )
        return name
    return None


def load_pose_model(spec: str | Path) -> tuple[Any, Any, Any, dict[str, Any] | None]:
    """``(model, recipe, skeleton, metainfo)`` of a checkpoint path or a zoo name
    (``rtmpose-m`` / ``mmpose://rtmpose-m``, weights from the cache)."""
    from posecli.api import build_model, load_checkpoint, skeleton_metainfo
    from posecli.recipe import load_recipe

    text = str(spec)
    name = _is_zoo(text)
    if name is not None:
        from posecli.models.weights import load_pretrained

        recipe = load_recipe(_zoo_recipe(name))
        model = build_model(recipe, pretrained=False)
        load_pretrained(model, f"mmpose://{name}", strict=True)
        skeleton = _skeleton_of(recipe, None)
        return model.eval(), recipe, skeleton, skeleton_metainfo(skeleton) if skeleton else None
    path = Path(text)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    from posecli.engine.checkpoint import read_checkpoint

    model, recipe = load_checkpoint(path)
    metainfo = read_checkpoint(path).get("metainfo") or None
    skeleton = _skeleton_of(recipe, metainfo)
    if not metainfo and skeleton is not None:
        metainfo = skeleton_metainfo(skeleton)
    return model, recipe, skeleton, metainfo


def _skeleton_of(recipe: Any, metainfo: dict[str, Any] | None) -> Any:
    """The recipe's skeleton, or the one stored in the checkpoint's metainfo."""
    from posecli.data.metainfo import load_skeleton

    name = getattr(recipe.data, "skeleton", None)
    if name:
        try:
            return load_skeleton(name)
        except PoseCliError:
            pass
    if metainfo and metainfo.get("keypoints"):
        try:
            return load_skeleton(metainfo)
        except PoseCliError:
            return None
    return None


def _named_skeleton(meta: dict[str, Any]) -> Any:
    """The registered skeleton a bottom-up file's metainfo names, if any."""
    name = (meta.get("metainfo") or {}).get("name")
    if not name:
        return None
    try:
        from posecli.data.metainfo import load_skeleton

        return load_skeleton(str(name))
    except PoseCliError:
        return None


def _file_skeleton(spec: TopDownSpec) -> Any:
    """The registered skeleton an exported file names, when its keypoints match."""
    if not spec.skeleton:
        return None
    try:
        from posecli.data.metainfo import load_skeleton

        skel = load_skeleton(spec.skeleton)
    except PoseCliError:
        return None
    names = list(spec.keypoint_names)
    return skel if not names or list(skel.keypoint_names) == names else None


def torch_predictor(
    model: Any,
    recipe: Any,
    *,
    metainfo: Any = None,
    skeleton: Any = None,
    device: str = "cpu",
    **kwargs: Any,
) -> Predictor:
    """A PyTorch-backend :class:`Predictor` of a built ``PoseModel`` and its recipe."""
    from posecli.runtime.backends import TorchBackend, spec_from_model

    backend = TorchBackend(model, device)
    spec = spec_from_model(backend.model, recipe, metainfo)
    return Predictor(spec, backend, skeleton=skeleton, **kwargs)


def _cache_key(text: str) -> str:
    """SHA-256 (16 hex digits) of the checkpoint file, or of the zoo name, plus the format."""
    path = Path(text)
    h = hashlib.sha256()
    if path.is_file():
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    else:
        h.update(f"zoo:{text.removeprefix('mmpose://')}".encode())
    return f"{h.hexdigest()[:16]}-v{SPEC_VERSION}"


def _cached_export(text: str, model: Any, recipe: Any, metainfo: Any, backend: str) -> Path:
    """The exported file of checkpoint ``text`` for ``backend``, exporting (and checking) it
    once; says in one line what it did."""
    from posecli.export.exporter import export_model

    target = export_cache_dir() / f"{_cache_key(text)}{_SUFFIX[backend]}"
    if target.is_file():
        log.info("backend %s: cached export of %s (%s)", backend, text, target)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    result = export_model(
        model, recipe, target, metainfo=metainfo, fmt=_FORMAT[backend], check=True, force=True
    )
    log.warning(
        "backend %s: exported %s once to %s (parity with PyTorch: %s)",
        backend, text, target, result.report.summary() if result.report else "not checked",
    )  # fmt: skip
    return target


def _ort_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def _refuse_rotation_test(rotation_test: bool | None, source: str) -> None:
    if rotation_test:
        raise PoseCliError(f"--rotation-test: {source} is a bottom-up model (top-down only)")


def load_predictor(
    spec: str | Path,
    *,
    backend: str = "auto",
    device: str = "auto",
    batch_size: int = 16,
    flip_test: bool | None = None,
    rotation_test: bool | None = None,
    threads: int | None = None,
) -> Predictor:
    """A :class:`Predictor` for a checkpoint, a zoo name or an exported ``.onnx`` / ``.ts``.

    Args:
        spec: what to load.
        backend: ``auto`` (see the module docstring), ``torch``, ``onnxruntime`` or
            ``torchscript`` (a checkpoint is exported into the cache first).
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N``.
        batch_size: crops per backend run.
        flip_test: override the recipe's (or the export's) flip test.
        rotation_test: override the recipe's (or the export's) rotation test (top-down).
        threads: backend intra-op threads (``None``: measured during a stream).
    """
    if backend not in BACKEND_CHOICES:
        raise PoseCliError(
            f"--backend: unknown {backend!r} (choose from {', '.join(BACKEND_CHOICES)})"
        )
    text = str(spec)
    opts: dict[str, Any] = {"batch_size": batch_size, "flip_test": flip_test}
    if rotation_test is not None:
        opts["rotation_test"] = rotation_test
    if is_exported_model(text):
        kind = "onnxruntime" if Path(text).suffix.lower() == ".onnx" else "torchscript"
        if backend not in ("auto", kind):
            raise PoseCliError(
                f"--backend {backend}: {text} is a {kind} file; use --backend {kind} or auto"
            )
        runner = open_backend(text, threads=threads, device=device)
        meta = runner.metadata()
        if meta.get("kind") == "bottomup":  # whole frames in: AE, DEKR, RTMO files
            _refuse_rotation_test(rotation_test, text)
            from posecli.runtime.bottomup_exported import exported_bottomup_predictor

            return exported_bottomup_predictor(  # type: ignore[return-value]
                runner, meta, text, skeleton=_named_skeleton(meta), flip_test=flip_test
            )
        file_spec = TopDownSpec.from_metadata(meta, source=text)
        runner.spec = file_spec
        return Predictor(file_spec, runner, skeleton=_file_skeleton(file_spec), source=text, **opts)
    model, recipe, skeleton, metainfo = load_pose_model(text)
    dev = resolve_device(device)
    if getattr(model, "kind", "topdown") == "bottomup":  # whole frames, no boxes
        _refuse_rotation_test(rotation_test, text)
        from posecli.models.estimators.bottomup_predict import torch_bottomup_predictor

        if backend not in ("auto", "torch"):
            raise PoseCliError(f"--backend {backend}: bottom-up checkpoints run in torch")
        return torch_bottomup_predictor(  # type: ignore[return-value]
            model, recipe, skeleton=skeleton, device=dev, flip_test=flip_test, source=text
        )
    chosen = backend
    if backend == "auto":
        chosen = "onnxruntime" if dev == "cpu" and _ort_available() else "torch"
    if chosen == "torch":
        pred = torch_predictor(
            model, recipe, metainfo=metainfo, skeleton=skeleton, device=dev, source=text, **opts
        )
        if threads:
            pred.backend.set_threads(threads)
        return pred
    try:
        path = _cached_export(text, model, recipe, metainfo, chosen)
    except PoseCliError as exc:
        if backend != "auto":
            raise
        log.warning("backend auto: cannot export %s (%s); running it in PyTorch", text, exc)
        return torch_predictor(
            model, recipe, metainfo=metainfo, skeleton=skeleton, device=dev, source=text, **opts
        )
    file_spec, runner = open_exported(path, threads=threads, device=dev)
    return Predictor(file_spec, runner, skeleton=skeleton, source=text, **opts)
