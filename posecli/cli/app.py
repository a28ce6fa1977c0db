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
from posecli.errors import PoseCliError, one_line

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
    """The one-line message shown for ``exc`` (see :func:`posecli.errors.one_line`)."""
    return one_line(exc)


def interrupted_line() -> str:
    """The line printed on Ctrl-C: what the command kept (if it said), else that it stopped."""
    from posecli.outputs import interrupt_note

    note = interrupt_note()
    return f"Interrupted: {note}" if note else "Interrupted."


class PoseCliGroup(TyperGroup):
    """Top-level group: exceptions become one line on stderr (exit 1, usage errors 2),
    Ctrl-C one line on what was kept (exit 130)."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            if debug_enabled():
                raise
            typer.echo(interrupted_line(), err=True)
            raise typer.Exit(130) from None
        except Exception as exc:  # Click's own usage errors derive from ClickException
            if _is_click_exception(exc):
                _usage_line(exc)
            if debug_enabled():
                raise
            typer.echo(f"Error: {error_line(exc)}", err=True)
            code = exc.exit_code if isinstance(exc, PoseCliError) else 1
            raise typer.Exit(code) from None


def _is_click_exception(exc: BaseException) -> bool:
    return any(cls.__name__ == "ClickException" for cls in type(exc).__mro__)


def _usage_line(exc: Any) -> None:
    """A usage error as one line on stderr (exit 2); the help of a bare group as Click shows it."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    if "NoArgsIsHelpError" in names or "UsageError" not in names or debug_enabled():
        raise exc
    ctx = getattr(exc, "ctx", None)
    where = f" ({ctx.command_path} -h shows the options)" if ctx is not None else ""
    message = " ".join(str(exc.format_message()).split())
    typer.echo(f"Error: {message}{where}", err=True)
    raise typer.Exit(exc.exit_code) from None


def _one_line_warnings() -> None:
    """Warnings print as ``Warning: message`` (one line, no source line); OpenCV and FFmpeg
    keep their own log lines out of stderr."""
    import warnings

    os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

    def show(
        message: Any, category: Any, filename: Any, lineno: Any, file: Any = None, line: Any = None
    ) -> None:
        text = " ".join(str(message).split())
        print(f"Warning: {text}", file=file or sys.stderr)

    warnings.showwarning = show  # type: ignore[assignment]


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
    _one_line_warnings()
    try:
        app = create_app()
        command = typer.main.get_command(app)
    except Exception as exc:
        if debug_enabled():
            raise
        typer.echo(f"Error: {error_line(exc)}", err=True)
        raise SystemExit(1) from None
    command.main(args=argv, prog_name="posecli")
