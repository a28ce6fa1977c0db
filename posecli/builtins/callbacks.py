"""Built-in training callbacks, registered through ``posecli_register_callbacks``.

The trainer adds them itself from their recipe keys (``posecli.engine.default_callbacks``);
``[[train.callbacks]]`` names further ones, from plugins.
"""

from __future__ import annotations

from posecli.hookspecs import RegisterCallback, hookimpl

_CORE = "posecli.engine.builtin_callbacks"
_LOG = "posecli.engine.log_callbacks"


@hookimpl
def posecli_register_callbacks(register: RegisterCallback) -> None:
    register(
        "pipeline_switch",
        f"{_CORE}:PipelineSwitchCallback",
        aliases=("PipelineSwitchHook",),
        help="RTMPose stage 2: a second training pipeline from an epoch on (train.pipeline_switch)",
    )
    register(
        "attribute_switch",
        f"{_CORE}:AttributeSwitchCallback",
        aliases=("RTMOModeSwitchHook",),
        help="set model attributes from given epochs on (RTMO's second stage)",
    )
    register(
        "ema",
        f"{_CORE}:EMACallback",
        aliases=("EMAHook",),
        help="exponential moving average of the weights, validated and saved (train.ema)",
    )
    register(
        "progress",
        f"{_LOG}:ProgressCallback",
        help="progress bar with loss, lr, images/s and ETA (plain lines off a terminal)",
    )
    register(
        "metrics_log",
        f"{_LOG}:MetricsLogCallback",
        aliases=("LoggerHook",),
        help="metrics.jsonl and train.log lines (train.log_interval)",
    )
    register(
        "checkpoint",
        f"{_CORE}:CheckpointCallback",
        aliases=("CheckpointHook",),
        help="last.pt every epoch (exact resume), best.pt by train.save_best",
    )
    register(
        "curves",
        f"{_LOG}:CurvesCallback",
        help="curves.png: losses, lr and metrics by epoch, per-keypoint errors of the last validation",
    )
    register(
        "early_stopping",
        f"{_CORE}:EarlyStoppingCallback",
        aliases=("EarlyStoppingHook",),
        help="stop when train.save_best has not improved for `patience` validations",
    )
    register(
        "batch_sync_random_resize",
        "posecli.engine.batch_resize:BatchSyncRandomResizeCallback",
        aliases=("BatchSyncRandomResize",),
        help="resize training batches to a random multiple of 32 drawn every few iterations (RTMO)",
    )
