"""The ``posecli`` Typer application: global options, error handling, plugin commands.

Every command is added through the ``posecli_register_commands`` hook (built-ins included), so
a plugin's command sits beside ours. Errors derived from :class:`PoseCliError` (and any other
exception) print one line on stderr and exit 1; ``--debug`` or ``POSECLI_DEBUG=1`` shows the
traceback instead. Usage errors exit 2 (Click's convention).
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from posecli import __version__
from posecli.errors import PoseCliError

PANEL_DATA = "Data"
PANEL_TRAINING = "Training"
PANEL_INFERENCE = "Inference"
PANEL_DEPLOYMENT = "Deployment"
PANEL_PLUGINS = "Plugins"
PANEL_RECIPES = "Recipes"

_state: dict[str, bool] = {"debug": False, "quiet": False}


def debug_enabled() -> bool:
    """True when tracebacks should be shown (``--debug`` or ``POSECLI_DEBUG=1``)."""
    env = os.environ.get("POSECLI_DEBUG", "").strip().lower() in {"1", "true", "yes", "on"}
    return _state["debug"] or env


def quiet_enabled() -> bool:
    """True when progress bars and chatter are off (``--quiet``)."""
    return _state["quiet"]


def error_line(exc: BaseException) -> str:
    """The one-line message shown for ``exc``."""
    if isinstance(exc, PoseCliError):
        text = str(exc)
    elif isinstance(exc, (FileNotFoundError, PermissionError, IsADirectoryError)):
        text = f"{exc.strerror or type(exc).__name__}: {exc.filename}"
    else:
        text = f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)"
    return " ".join(text.split())


class PoseCliGroup(TyperGroup):
    """Top-level group turning exceptions into one-line errors with exit code 1."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except Exception as exc:  # Click's own usage errors derive from ClickException
            if _is_click_exception(exc) or debug_enabled():
                raise
            typer.echo(f"Error: {error_line(exc)}", err=True)
            raise typer.Exit(1) from None


def _is_click_exception(exc: BaseException) -> bool:
    return any(cls.__name__ == "ClickException" for cls in type(exc).__mro__)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"posecli {__version__}")
        raise typer.Exit()


def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version_callback,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show full tracebacks on errors (or POSECLI_DEBUG=1).")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bars or informational output.")
    ] = False,
) -> None:
    """posecli: top-down 2D pose estimation — train, evaluate, predict and export from one CLI."""
    _state["debug"] = debug
    _state["quiet"] = quiet


def create_app() -> typer.Typer:
    """A fresh application with every plugin's commands registered."""
    from posecli.plugins import get_plugin_manager

    app = typer.Typer(
        name="posecli",
        cls=PoseCliGroup,
        no_args_is_help=True,
        add_completion=False,
        rich_markup_mode="rich",
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_root)
    get_plugin_manager().register_commands(app)
    return app


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    _state["debug"] = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        app = create_app()
    except Exception as exc:
        if debug_enabled():
            raise
        typer.echo(f"Error: {error_line(exc)}", err=True)
        raise SystemExit(1) from None
    app(args=argv, prog_name="posecli")
