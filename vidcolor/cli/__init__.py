"""Command-line front end: parses arguments, calls the pipeline, reports. Nothing else lives here.

Each command lives in its own module; importing them here registers them on `app`.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path

import typer

from ..errors import Terminated, VidcolorError

try:  # Typer 0.2x carries its own copy of Click; older Typers use Click itself
    from typer._click import exceptions as click_exceptions
except ImportError:
    from click import exceptions as click_exceptions

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Colorize black-and-white film with a trained neural network.")

# Exit status after Ctrl-C (128 + SIGINT) and after SIGTERM (128 + 15), as shells report them.
INTERRUPTED_EXIT_CODE = 130
TERMINATED_EXIT_CODE = 143

DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "models" / "vidcolor-base.pt"

# Options shared by the commands that load a model (run, preview, eval).
MODEL_OPTION = typer.Option(DEFAULT_MODEL, "--model", help="Checkpoint (.pt) to use.")
PIPELINE_OPTION = typer.Option("default", "--pipeline", help="Preset name (default, fast, archive) or a TOML file.")
DEVICE_OPTION = typer.Option("auto", "--device", help="auto, cpu or cuda.")
PRECISION_OPTION = typer.Option("auto", "--precision",
                                help="Colour net precision: auto, fp32, bf16 or int8 (int8: cpu with VNNI).")


@app.callback()
def _root() -> None:
    """Colorize black-and-white film with a trained neural network."""


def fail(message: str, code: int = 2) -> None:
    """Print a one-line error and exit."""
    typer.echo(f"vidcolor: error: {message}", err=True)
    raise typer.Exit(code)


class _OneLineWarnings(logging.Handler):
    """Prints vidcolor's warnings as single 'vidcolor: warning: ...' lines on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        message = " ".join(record.getMessage().split())
        typer.echo(f"vidcolor: {record.levelname.lower()}: {message}", err=True)


def _show_warnings() -> None:
    """Route warnings of the vidcolor loggers to stderr, once per process."""
    logger = logging.getLogger("vidcolor")
    if not any(isinstance(h, _OneLineWarnings) for h in logger.handlers):
        handler = _OneLineWarnings(logging.WARNING)
        logger.addHandler(handler)
        if logger.level == logging.NOTSET or logger.level > logging.WARNING:
            logger.setLevel(logging.WARNING)


def _usage_error(exc: click_exceptions.ClickException) -> int:
    """A bad command line as one line (Click's own report is a boxed usage text); returns the exit code."""
    if isinstance(exc, click_exceptions.NoArgsIsHelpError):
        exc.show()  # `vidcolor` alone: the help text is the answer
        return exc.exit_code
    message = " ".join(exc.format_message().split())
    ctx = getattr(exc, "ctx", None)
    hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    typer.echo(f"vidcolor: error: {message}{hint}", err=True)
    return exc.exit_code


def _exit_code() -> int:
    """Run the command line; its exit code, every failure reported in one line on stderr."""
    try:
        # Not standalone: Click's usage errors come back here instead of being printed as a boxed text.
        code = app(standalone_mode=False)
        return code if isinstance(code, int) else 0  # Typer turns Ctrl-C into 130
    except click_exceptions.ClickException as exc:
        return _usage_error(exc)
    except typer.Abort:  # end of input at a prompt
        return INTERRUPTED_EXIT_CODE
    except VidcolorError as exc:
        typer.echo(f"vidcolor: error: {exc}", err=True)
        return 2
    except Terminated:
        return TERMINATED_EXIT_CODE
    except KeyboardInterrupt:
        return INTERRUPTED_EXIT_CODE
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except MemoryError:
        typer.echo("vidcolor: error: out of memory (try a smaller --batch-size or the fast preset)", err=True)
        return 1
    except OSError as exc:
        typer.echo(f"vidcolor: error: {exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}", err=True)
        return 1
    except Exception as exc:  # noqa: BLE001 - a bug: still one line, with what to report
        detail = " ".join(str(exc).split())  # OpenCV's and others' messages span lines
        typer.echo(f"vidcolor: internal error: {type(exc).__name__}: {detail} (please report this)", err=True)
        return 1


def main() -> None:
    """Entry point: one-line errors, exit code 2 for user errors, 130 for Ctrl-C, 143 for SIGTERM."""
    _show_warnings()
    terminated = threading.Event()

    def on_sigterm(signum, frame) -> None:
        terminated.set()
        raise Terminated  # abort as Ctrl-C does: no partial file is left behind

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_sigterm)
    code = _exit_code()
    if terminated.is_set() and code == INTERRUPTED_EXIT_CODE:  # Typer reports every KeyboardInterrupt as 130
        code = TERMINATED_EXIT_CODE
    if code == INTERRUPTED_EXIT_CODE:
        typer.echo("vidcolor: interrupted", err=True)
    elif code == TERMINATED_EXIT_CODE:
        typer.echo("vidcolor: stopped by SIGTERM", err=True)
    sys.exit(code)


# Command modules (each registers itself on `app`).
from . import run as _run  # noqa: E402,F401
from . import train as _train  # noqa: E402,F401
from . import evaluate as _evaluate  # noqa: E402,F401
from . import status as _status  # noqa: E402,F401
from . import preview as _preview  # noqa: E402,F401
