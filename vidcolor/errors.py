"""User-facing errors: each carries one sentence the CLI prints as-is."""


class VidcolorError(Exception):
    """An error the user can act on; the CLI prints its message on one line and exits non-zero."""


class MediaError(VidcolorError):
    """The input or output media cannot be read or written."""


class InputError(MediaError):
    """The input itself cannot be colorized (empty, truncated, damaged, not a video): trying again gives the same
    until the file changes (unlike a full disk or a folder that cannot be written)."""


class ModelError(VidcolorError):
    """A checkpoint cannot be loaded or used."""


class ConfigError(VidcolorError):
    """An option, preset or argument is invalid."""


class Terminated(KeyboardInterrupt):
    """The process was asked to stop (SIGTERM: `kill`, systemd, `docker stop`): the work in progress is aborted
    as a second Ctrl-C aborts it (no partial output), then the CLI exits 143."""
