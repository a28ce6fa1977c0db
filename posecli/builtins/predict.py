"""Built-in inference commands: ``posecli predict``, ``visualize-heatmap`` and
``finalize-predictions``.

(``posecli visualize predictions`` lives in the ``visualize`` group registered with the data
commands.)
"""

from __future__ import annotations

from typing import Any

from posecli.hookspecs import hookimpl


@hookimpl
def posecli_register_commands(app: Any) -> None:
    from posecli.cli.app import PANEL_INFERENCE
    from posecli.cli.finalize import finalize_predictions_command
    from posecli.cli.predict import predict_command
    from posecli.cli.visualize_heatmap import visualize_heatmap_command

    app.command("predict", rich_help_panel=PANEL_INFERENCE)(predict_command)
    app.command("visualize-heatmap", rich_help_panel=PANEL_INFERENCE)(visualize_heatmap_command)
    app.command("finalize-predictions", rich_help_panel=PANEL_INFERENCE)(
        finalize_predictions_command
    )
