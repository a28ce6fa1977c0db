"""``posecli predict``: poses on images, folders, globs, video, webcams and streams."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from posecli.cli.output import print_json, stderr_console, stdout_console


class OutputFormat(str, Enum):
    """``--format`` choices."""

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
    checkpoint: Annotated[
        Path | None, typer.Option("--checkpoint", "-c", help="A posecli checkpoint (best.pt).")
    ] = None,
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
        typer.Option("--bbox", help="'whole': the whole frame is the box (single animal)."),
    ] = None,
    bbox_file: Annotated[
        Path | None, typer.Option("--bbox-file", help="COCO detection results JSON.")
    ] = None,
    bbox_category: Annotated[
        int | None,
        typer.Option("--bbox-category", help="Keep only this category_id of --bbox-file."),
    ] = None,
    detector: Annotated[
        str | None,
        typer.Option("--detector", help="Registered detector (posecli list detectors)."),
    ] = None,
    detector_weights: Annotated[
        str | None,
        typer.Option(
            "--detector-weights", help="Detector weights: a file or torchvision://DEFAULT."
        ),
    ] = None,
    det_every: Annotated[
        int,
        typer.Option("--det-every", min=1, help="Detect every N frames; follow keypoints between."),
    ] = 1,
    bbox_thr: Annotated[float, typer.Option("--bbox-thr", help="Box score threshold.")] = 0.3,
    nms_thr: Annotated[float, typer.Option("--nms-thr", help="Box NMS IoU threshold.")] = 0.3,
    max_instances: Annotated[
        int | None, typer.Option("--max-instances", min=1, help="Keep the best N boxes per frame.")
    ] = None,
    batch_size: Annotated[
        int, typer.Option("--batch-size", "-b", min=1, help="Crops per forward pass.")
    ] = 16,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda or cuda:N.")] = "auto",
    flip: Annotated[
        bool | None,
        typer.Option("--flip/--no-flip", help="Flip test (default: as the recipe says)."),
    ] = None,
    track: Annotated[bool, typer.Option("--track", help="Assign stable track ids.")] = False,
    track_metric: Annotated[
        str, typer.Option("--track-metric", help="oks (keypoints) or iou (boxes).")
    ] = "oks",
    smooth: Annotated[
        bool, typer.Option("--smooth", help="One-Euro temporal smoothing of keypoints.")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output folder (default predictions/<source name>)."),
    ] = None,
    formats: Annotated[
        list[OutputFormat] | None,
        typer.Option("--format", "-f", help="json (predictions.json), coco or csv; repeatable."),
    ] = None,
    render: Annotated[
        bool, typer.Option("--render", help="Write an annotated video (or images).")
    ] = False,
    show: Annotated[
        bool, typer.Option("--show", help="Show frames in a window (q quits).")
    ] = False,
    kpt_thr: Annotated[float, typer.Option("--kpt-thr", help="Keypoint score to draw.")] = 0.3,
    threads: Annotated[
        int | None, typer.Option("--threads", min=1, help="Torch CPU threads (default cores-1).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing outputs.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON summary (frames, fps, timings, files).")
    ] = False,
) -> None:
    """Predict poses: boxes (whole frame, file or detector) → batched top-down model → files."""
    from posecli.cli.app import quiet_enabled
    from posecli.inference.run import PredictConfig, run_predict
    from posecli.inference.setup import (
        load_default_predictor,
        make_box_provider,
        resolve_model_spec,
    )
    from posecli.inference.sources import open_source

    spec, how = resolve_model_spec(checkpoint, model)
    src = open_source(source)
    predictor = load_default_predictor(
        spec, how, device=device, batch_size=batch_size, flip_test=flip
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
        device=str(predictor.device),
        skeleton=predictor.skeleton,
        kpt_thr=kpt_thr,
        category_id=bbox_category,
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
    )
    summary = run_predict(src, predictor, boxes, config)
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
    for kind, path in summary.outputs.items():
        console.print(f"{kind}: {path}")
