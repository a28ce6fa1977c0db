"""``posecli predict``: poses on images, folders, globs, video, webcams and streams."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from posecli.cli.options import (
    BboxFileOption,
    BboxThrOption,
    DetectorOption,
    DetectorWeightsOption,
    DeviceOption,
    FlipTestOption,
    ForceOption,
    KptThrOption,
    RotationTestOption,
    option,
)
from posecli.cli.output import print_json, stderr_console, stdout_console


class Backend(str, Enum):
    """``--backend`` choices."""

    auto = "auto"
    torch = "torch"
    onnxruntime = "onnxruntime"
    torchscript = "torchscript"


class OutputFormat(str, Enum):
    """``--to`` choices."""

    json = "json"
    coco = "coco"
    csv = "csv"


def _default_out(source: str) -> Path:
    stem = Path(source.rstrip("/")).stem.replace("*", "") or "predictions"
    return Path("predictions") / stem.replace(":", "_")


def predict_command(
    source: Annotated[
        str,
        typer.Argument(
            help="Image, folder, glob ('frames/*.png'), video file, webcam:N or stream URL."
        ),
    ],
    checkpoint: Annotated[Path | None, option("--checkpoint")] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="Zoo model name (rtmpose-m, mmpose://rtmpose-m) or an exported FILE.onnx / FILE.ts.",
        ),
    ] = None,
    bbox: Annotated[
        str | None,
        option("--bbox", detail="For a single animal filling the frame."),
    ] = None,
    bbox_file: BboxFileOption = None,
    bbox_category: Annotated[
        int | None,
        typer.Option("--bbox-category", help="Keep only this category_id of --bbox-file."),
    ] = None,
    detector: DetectorOption = None,
    detector_weights: DetectorWeightsOption = None,
    det_every: Annotated[
        int,
        typer.Option("--det-every", min=1, help="Detect every N frames; follow keypoints between."),
    ] = 1,
    bbox_thr: BboxThrOption = 0.3,
    nms_thr: Annotated[float, typer.Option("--nms-thr", help="Box NMS IoU threshold.")] = 0.3,
    max_instances: Annotated[
        int | None, typer.Option("--max-instances", min=1, help="Keep the best N boxes per frame.")
    ] = None,
    batch_size: Annotated[int, option("--batch-size", min=1)] = 16,
    device: DeviceOption = "auto",
    backend: Annotated[
        Backend,
        typer.Option(
            "--backend",
            help="auto: ONNX Runtime on the CPU (a checkpoint is exported once into the cache, "
            "parity-checked), PyTorch on CUDA; or torch, onnxruntime, torchscript.",
        ),
    ] = Backend.auto,
    flip: FlipTestOption = None,
    rotation_test: RotationTestOption = None,
    track: Annotated[bool, typer.Option("--track", help="Assign stable track ids.")] = False,
    track_metric: Annotated[
        str, typer.Option("--track-metric", help="oks (keypoints) or iou (boxes).")
    ] = "oks",
    smooth: Annotated[
        bool, typer.Option("--smooth", help="One-Euro temporal smoothing of keypoints.")
    ] = False,
    out: Annotated[
        Path | None,
        option("--out", detail="A folder (default predictions/<source name>)."),
    ] = None,
    formats: Annotated[
        list[OutputFormat] | None,
        option("--to", detail="json (predictions.json), coco or csv; repeatable."),
    ] = None,
    render: Annotated[
        bool, typer.Option("--render", help="Write an annotated video (or images).")
    ] = False,
    show: Annotated[
        bool, typer.Option("--show", help="Show frames in a window (q quits).")
    ] = False,
    kpt_thr: KptThrOption = 0.3,
    threads: Annotated[
        int | None,
        typer.Option("--threads", min=1, help="Backend CPU threads (default: measured)."),
    ] = None,
    force: ForceOption = False,
    as_json: Annotated[
        bool, option("--json", detail="A summary: frames, fps, timings, files.")
    ] = False,
    lift: Annotated[
        str | None,
        typer.Option(
            "--lift",
            help="Lifting checkpoint (2D→3D): adds keypoints_3d to predictions.json, writes "
            "predictions_3d.csv and, with --render, a 3D view beside the 2D overlay.",
        ),
    ] = None,
    lift_causal: Annotated[
        bool | None,
        typer.Option(
            "--lift-causal/--lift-centred",
            help="Lift from past frames only (webcams) or centred windows (default: the lifter's).",
        ),
    ] = None,
) -> None:
    """Predict poses: boxes (whole frame, file or detector) → batched top-down model → files."""
    from posecli.cli.app import quiet_enabled
    from posecli.errors import PoseCliError
    from posecli.inference.run import PredictConfig
    from posecli.inference.setup import (
        load_default_predictor,
        make_box_provider,
        resolve_model_spec,
    )
    from posecli.inference.sources import open_source
    from posecli.runtime.bottomup_predictor import BottomupPredictor

    _check_usage(bbox, bbox_file, detector, out)
    spec, how = resolve_model_spec(checkpoint, model)
    src = open_source(source)
    predictor = load_default_predictor(
        spec,
        how,
        backend=backend.value,
        device=device,
        batch_size=batch_size,
        flip_test=flip,
        rotation_test=rotation_test,
        threads=threads,
    )
    if isinstance(predictor, BottomupPredictor) and (bbox or bbox_file or detector):
        raise PoseCliError(
            f"{spec} is a bottom-up model: it finds every instance itself; drop "
            "--bbox/--bbox-file/--detector"
        )
    boxes = make_box_provider(
        bbox=bbox,
        bbox_file=bbox_file,
        detector=detector,
        detector_weights=detector_weights,
        det_every=det_every,
        bbox_thr=bbox_thr,
        nms_thr=nms_thr,
        max_instances=max_instances,
        device=predictor.device,
        skeleton=predictor.skeleton,
        kpt_thr=kpt_thr,
        category_id=bbox_category,
        checkpoint=spec,
    )
    config = PredictConfig(
        out=out or _default_out(source),
        formats=[f.value for f in formats] if formats else ["json"],
        render=render,
        show=show,
        track=track,
        smooth=smooth,
        kpt_thr=kpt_thr,
        force=force,
        progress=not quiet_enabled() and not as_json,
        threads=threads,
        track_metric=track_metric,
        lift=_load_lifter(lift, device) if lift is not None else None,
        lift_causal=lift_causal,
    )
    if lift is not None and "json" not in config.formats:
        config.formats.append("json")
    summary = run_into_folder(src, predictor, boxes, config, force)
    if as_json:
        print_json({"model": spec, **summary.as_dict()})
        return
    if quiet_enabled():
        return
    console = stdout_console()
    failed = f", {len(summary.failed)} failed to decode" if summary.failed else ""
    console.print(
        f"{summary.frames} frames, {summary.instances} instances in {summary.seconds:.1f} s "
        f"({summary.fps:.1f} frames/s){failed}; model: {spec} ({how})"
    )
    split = "  ".join(f"{k} {v:.2f}s" for k, v in summary.timings.items())
    stderr_console().print(f"time: {split}")
    stderr_console().print(f"backend {summary.backend}, {summary.threads or 'default threads'}")
    for kind, path in summary.outputs.items():
        console.print(f"{kind}: {path}")


_FILE_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".png", ".jpg", ".jpeg", ".json", ".csv"}


def _check_usage(
    bbox: str | None, bbox_file: Path | None, detector: str | None, out: Path | None
) -> None:
    """Usage errors (exit 2) before any model is loaded."""
    from posecli.errors import UsageError

    chosen = [
        n
        for n, v in (("--bbox", bbox), ("--bbox-file", bbox_file), ("--detector", detector))
        if v is not None
    ]
    if len(chosen) > 1:
        raise UsageError(f"{' and '.join(chosen)} both choose the boxes: pass only one")
    if out is not None and out.suffix.lower() in _FILE_SUFFIXES:
        raise UsageError(
            f"--out {out}: names a folder that the outputs go into (predictions.json, the "
            "rendered video...), not a file"
        )


def _load_lifter(spec: str, device: str) -> Any:
    """The ``--lift`` model (checked before the 2D run starts)."""
    from posecli.inference.lifting import Lifter

    return Lifter.load(spec, device=device)


def run_into_folder(src: Any, predictor: Any, boxes: Any, config: Any, force: bool) -> Any:
    """``run_predict`` under the output-folder rule (:mod:`posecli.outputs`): a folder holding
    files is refused without ``--force`` and replaced whole with it; an interrupted run keeps
    its finished frames (``predictions.json`` with ``"complete": false``) in a new folder."""
    import dataclasses

    from posecli.inference.run import run_predict
    from posecli.outputs import has_files, on_interrupt, output_folder

    target = Path(config.out)

    def keep(folder: Path) -> bool:
        return folder == target and has_files(folder)

    def kept() -> str:
        if not has_files(target) or not any(target.glob("predictions*")):
            return f"nothing kept; {target} is as it was before"
        return (
            f'kept the finished frames in {target} (predictions.json with "complete": false, '
            "or predictions.json.partial.jsonl after a hard kill: posecli finalize-predictions "
            "turns it into predictions.json)"
        )

    on_interrupt(kept)
    with output_folder(target, force=force, keep=keep) as folder:
        summary = run_predict(
            src, predictor, boxes, dataclasses.replace(config, out=folder, force=True)
        )
    if folder != target:
        summary.outputs = {
            k: str(v).replace(str(folder), str(target), 1) for k, v in summary.outputs.items()
        }
    return summary
