"""The inference runtime: top-down geometry, :class:`TopDownSpec`, backends and the
:class:`Predictor` — importable without torch (PyTorch is imported only by the ``torch`` and
``torchscript`` backends).

Dependency direction: :mod:`posecli.inference` and :mod:`posecli.export` use this package;
it uses neither (only codecs, the registry and errors).
"""

from __future__ import annotations

from posecli.runtime.backends import (
    BACKENDS,
    Backend,
    OrtBackend,
    TorchBackend,
    TorchScriptBackend,
    is_exported_model,
    open_exported,
)
from posecli.runtime.frames import Frame, read_image, to_bgr_uint8
from posecli.runtime.predictor import STAGES, Predictor, Stage
from posecli.runtime.result import CropBatch, FramePrediction
from posecli.runtime.spec import FlipSpec, TopDownSpec
from posecli.runtime.threads import (
    ThreadMemory,
    ThreadTuner,
    available_cores,
    cache_dir,
    thread_candidates,
)

__all__ = [
    "BACKENDS",
    "STAGES",
    "Backend",
    "CropBatch",
    "FlipSpec",
    "Frame",
    "FramePrediction",
    "OrtBackend",
    "Predictor",
    "Stage",
    "ThreadMemory",
    "ThreadTuner",
    "TopDownSpec",
    "TorchBackend",
    "TorchScriptBackend",
    "available_cores",
    "cache_dir",
    "is_exported_model",
    "open_exported",
    "read_image",
    "thread_candidates",
    "to_bgr_uint8",
]
