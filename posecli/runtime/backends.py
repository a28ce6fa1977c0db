"""Backends: ``run(crops) -> raw outputs`` on PyTorch, ONNX Runtime or TorchScript.

Every backend takes crops ``(B, h, w, 3)`` BGR uint8 (the :class:`~posecli.runtime.spec.
TopDownSpec` geometry) and returns the head's raw test-time outputs as float32 numpy arrays
(``simcc_x, simcc_y`` / ``heatmaps`` / ``coords``), without flip test or decode: those run in
:class:`~posecli.runtime.predictor.Predictor`, the same for all. Torch is imported only by the
PyTorch and TorchScript backends.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from posecli.errors import PoseCliError
from posecli.runtime.spec import TopDownSpec, normalize_crops

ONNX_SUFFIXES = (".onnx",)
TORCHSCRIPT_SUFFIXES = (".ts", ".torchscript", ".jit")
EXPORTED_SUFFIXES = ONNX_SUFFIXES + TORCHSCRIPT_SUFFIXES
#: Extra file holding the metadata inside TorchScript archives.
TORCHSCRIPT_FILE = "posecli_metadata.json"
BACKENDS = ("torch", "onnxruntime", "torchscript")


@runtime_checkable
class Backend(Protocol):
    """What :class:`~posecli.runtime.predictor.Predictor` needs of a backend.

    Attributes:
        name: ``torch``, ``onnxruntime`` or ``torchscript``.
        device: ``cpu`` or ``cuda``.
        threads: intra-op threads in use (``None``: the runtime's default).
    """

    name: str
    device: str
    threads: int | None

    def run(self, crops: np.ndarray) -> list[np.ndarray]:
        """Crops ``(B, h, w, 3)`` BGR uint8 → raw outputs (float32, batch first)."""
        ...

    def set_threads(self, threads: int) -> None:
        """Use ``threads`` intra-op threads from the next :meth:`run` on."""
        ...


def is_exported_model(path: str | Path) -> bool:
    """True when ``path`` names an exported model file (by its suffix)."""
    return Path(path).suffix.lower() in EXPORTED_SUFFIXES


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class TorchBackend:
    """A :class:`~posecli.models.pose_model.PoseModel` in eager PyTorch (CPU or CUDA).

    Args:
        model: the pose model (put in eval mode on ``device``; channels-last on CPU).
        device: ``cpu``, ``cuda`` or ``cuda:N``.
    """

    name = "torch"

    def __init__(self, model: Any, device: str = "cpu", channels_last: bool | None = None) -> None:
        import torch

        self._torch = torch
        self.torch_device = torch.device(device)
        self.device = self.torch_device.type
        self.model = model.to(self.torch_device).eval()
        if channels_last if channels_last is not None else self.device == "cpu":
            self.model.set_channels_last(True)
        self.threads: int | None = None

    def set_threads(self, threads: int) -> None:
        self._torch.set_num_threads(int(threads))
        self.threads = int(threads)

    def to_tensor(self, crops: np.ndarray) -> Any:
        """``(B, h, w, 3)`` uint8 → ``(B, 3, h, w)`` uint8 tensor on the device (a
        channels-last view, no copy on CPU), as the data loader's collate makes it."""
        t = self._torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2)
        return t.to(self.torch_device)

    def run(self, crops: np.ndarray) -> list[np.ndarray]:
        with self._torch.inference_mode():
            out = self.model.predict_outputs(
                self.to_tensor(crops), flip_test=False, rotation_test=False
            )
        out = out if isinstance(out, (tuple, list)) else (out,)
        return [o.float().cpu().numpy() for o in out]


class OrtBackend:
    """An ONNX file in ONNX Runtime (CUDA provider first when asked for and available).

    Args:
        path: the ``.onnx`` file.
        spec: its spec (how crops become the graph's input).
        threads: intra-op threads (``None``: ONNX Runtime's default).
        device: ``cpu``, ``cuda`` or ``auto``.
    """

    name = "onnxruntime"

    def __init__(
        self,
        path: str | Path,
        spec: TopDownSpec | None = None,
        *,
        threads: int | None = None,
        device: str = "cpu",
    ) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise PoseCliError(
                "running .onnx models needs onnxruntime (pip install onnxruntime)"
            ) from None
        self._ort = ort
        self.path = Path(path)
        providers = ["CPUExecutionProvider"]
        if device in ("auto", "cuda") or str(device).startswith("cuda:"):
            if "CUDAExecutionProvider" in ort.get_available_providers():
                providers.insert(0, "CUDAExecutionProvider")
            elif device != "auto":
                raise PoseCliError(f"--device {device}: onnxruntime has no CUDA provider here")
        self._providers = providers
        self._sessions: dict[int | None, Any] = {}
        self.threads = threads
        self.session = self._session(threads)
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.fixed_batch = inp.shape[0] if isinstance(inp.shape[0], int) else None
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.device = "cuda" if "CUDAExecutionProvider" in self.session.get_providers() else "cpu"
        self.spec = spec

    def _session(self, threads: int | None) -> Any:
        if threads not in self._sessions:
            ort = self._ort
            opts = ort.SessionOptions()
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            # with memory patterns a new session's first two runs are slow (~2.5× each);
            # without them only the first is, and steady runs are as fast (2-core CPU)
            opts.enable_mem_pattern = False
            if threads:
                opts.intra_op_num_threads = int(threads)
                opts.inter_op_num_threads = 1
            # the decode/crop threads need the cores between runs: no busy-waiting workers
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            try:
                self._sessions[threads] = ort.InferenceSession(
                    str(self.path), opts, providers=self._providers
                )
            except Exception as exc:
                raise PoseCliError(
                    f"{self.path}: not a loadable ONNX model ({_first_line(exc)})"
                ) from None
        return self._sessions[threads]

    def metadata(self) -> dict[str, Any]:
        """The file's posecli metadata (decoded ``posecli.*`` metadata_props)."""
        from posecli.runtime.metadata import decode_metadata

        return decode_metadata(dict(self.session.get_modelmeta().custom_metadata_map))

    def set_threads(self, threads: int) -> None:
        self.session = self._session(int(threads))
        self.threads = int(threads)

    def _run(self, x: np.ndarray) -> list[np.ndarray]:
        return list(self.session.run(None, {self.input_name: x}))

    def run(self, crops: np.ndarray) -> list[np.ndarray]:
        if self.spec is None:
            raise PoseCliError(f"{self.path}: no spec to prepare its input")
        x = normalize_crops(crops, self.spec)
        n = self.fixed_batch
        if n is None or x.shape[0] == n:
            return [np.asarray(o, np.float32) for o in self._run(x)]
        parts: list[list[np.ndarray]] = []
        for i in range(0, x.shape[0], n):  # a fixed-batch file: pad the last chunk
            chunk = x[i : i + n]
            pad = n - chunk.shape[0]
            if pad:
                chunk = np.concatenate([chunk, np.zeros((pad, *chunk.shape[1:]), np.float32)])
            parts.append([o[: n - pad] for o in self._run(chunk)])
        return [np.concatenate(p).astype(np.float32) for p in zip(*parts, strict=True)]


class TorchScriptBackend:
    """A TorchScript file written by ``posecli export --format torchscript``."""

    name = "torchscript"

    def __init__(
        self,
        path: str | Path,
        spec: TopDownSpec | None = None,
        *,
        threads: int | None = None,
        device: str = "cpu",
    ) -> None:
        import torch

        self._torch = torch
        self.path = Path(path)
        dev = (
            "cuda"
            if str(device).startswith("cuda") or (device == "auto" and torch.cuda.is_available())
            else "cpu"
        )
        self.torch_device = torch.device(device if str(device).startswith("cuda:") else dev)
        self.device = self.torch_device.type
        extra = {TORCHSCRIPT_FILE: ""}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                self.module = torch.jit.load(
                    str(path), map_location=self.torch_device, _extra_files=extra
                )
        except Exception as exc:
            raise PoseCliError(
                f"{path}: not a loadable TorchScript model ({_first_line(exc)})"
            ) from None
        text = extra[TORCHSCRIPT_FILE]
        self._meta: dict[str, Any] = json.loads(text) if text else {}
        self.threads = threads
        if threads:
            self.set_threads(threads)
        self.spec = spec

    def metadata(self) -> dict[str, Any]:
        return dict(self._meta)

    def set_threads(self, threads: int) -> None:
        self._torch.set_num_threads(int(threads))
        self.threads = int(threads)

    def _run(self, x: np.ndarray) -> list[np.ndarray]:
        """Raw outputs for a float32 input batch (what the graph was traced on)."""
        torch = self._torch
        with torch.inference_mode():
            out = self.module(torch.from_numpy(x).to(self.torch_device))
        out = out if isinstance(out, (tuple, list)) else (out,)
        return [o.float().cpu().numpy() for o in out]

    def run(self, crops: np.ndarray) -> list[np.ndarray]:
        if self.spec is None:
            raise PoseCliError(f"{self.path}: no spec to prepare its input")
        torch = self._torch
        x = torch.from_numpy(normalize_crops(crops, self.spec)).to(self.torch_device)
        with torch.inference_mode():
            out = self.module(x)
        out = out if isinstance(out, (tuple, list)) else (out,)
        return [o.float().cpu().numpy() for o in out]


def open_exported(
    path: str | Path, *, threads: int | None = None, device: str = "cpu"
) -> tuple[TopDownSpec, OrtBackend | TorchScriptBackend]:
    """``(spec, backend)`` of an exported ``.onnx`` (ONNX Runtime) or ``.ts`` (TorchScript) file."""
    backend = open_backend(path, threads=threads, device=device)
    spec = TopDownSpec.from_metadata(backend.metadata(), source=str(path))
    backend.spec = spec
    return spec, backend


def open_backend(
    path: str | Path, *, threads: int | None = None, device: str = "cpu"
) -> OrtBackend | TorchScriptBackend:
    """The runtime of an exported ``.onnx`` (ONNX Runtime) or ``.ts`` (TorchScript) file."""
    p = Path(path)
    if not p.is_file():
        raise PoseCliError(f"no such model file: {p}")
    suffix = p.suffix.lower()
    backend: OrtBackend | TorchScriptBackend
    if suffix in ONNX_SUFFIXES:
        backend = OrtBackend(p, threads=threads, device=device)
    elif suffix in TORCHSCRIPT_SUFFIXES:
        backend = TorchScriptBackend(p, threads=threads, device=device)
    else:
        raise PoseCliError(f"{p}: unknown model format {suffix!r}; expected .onnx or .ts")
    return backend


def output_kind(outputs: Any) -> str:
    """``simcc`` (a pair of ``(B,K,W)``), ``heatmap`` (``(B,C,h,w)``) or ``coords``
    (``(B,K,D)``) from a head's raw outputs (tensors or arrays)."""
    if isinstance(outputs, (tuple, list)):
        if len(outputs) == 2 and all(o.ndim == 3 for o in outputs):
            return "simcc"
        if len(outputs) == 1:
            return output_kind(outputs[0])
    elif outputs.ndim == 4:
        return "heatmap"
    elif outputs.ndim == 3:
        return "coords"
    shapes = (
        [tuple(o.shape) for o in outputs]
        if isinstance(outputs, (tuple, list))
        else tuple(outputs.shape)
    )
    raise PoseCliError(f"head outputs of shape {shapes}: not simcc, heatmaps or coordinates")


def spec_from_model(
    model: Any, recipe: Any, metainfo: Any = None, *, codec: Any = None
) -> TopDownSpec:
    """The :class:`TopDownSpec` of a ``PoseModel`` built from ``recipe``: its codec (or
    ``codec``, e.g. rebuilt for another input size), its ``test_cfg`` (recipe plus ``--set``
    overrides), its flip indices; the output kind from one forward of a zero crop."""
    import torch

    from posecli.recipe import recipe_to_dict
    from posecli.runtime.metadata import skeleton_fields

    codec = codec if codec is not None else model.codec
    if codec is None:
        raise PoseCliError("the model has no codec: build it from a recipe")
    rd = recipe_to_dict(recipe) if not isinstance(recipe, dict) else dict(recipe)
    rd["model"] = {**(rd.get("model") or {}), "test": model.test_cfg.model_dump()}
    w, h = (int(v) for v in codec.input_size)
    param = next(iter(model.parameters()), None)
    with torch.inference_mode():
        x = torch.zeros(1, 3, h, w, device=param.device if param is not None else "cpu")
        kind = output_kind(model.head.postprocess(model(x)))
    k = int(model.num_keypoints or 0)
    info = dict(metainfo or {})
    if model.flip_indices is not None and "flip_indices" not in info:
        info["flip_indices"] = list(model.flip_indices)
    fields = skeleton_fields(info, k)
    return TopDownSpec.from_recipe(
        rd,
        output_kind=kind,
        num_keypoints=k,
        flip_indices=model.flip_indices,
        keypoint_names=fields["keypoint_names"],
        skeleton_links=fields["skeleton_links"],
        codec=codec.to_dict(),
    )


__all__ = [
    "BACKENDS",
    "EXPORTED_SUFFIXES",
    "Backend",
    "OrtBackend",
    "TorchBackend",
    "TorchScriptBackend",
    "is_exported_model",
    "open_backend",
    "open_exported",
    "output_kind",
    "spec_from_model",
]
