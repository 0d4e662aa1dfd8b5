"""User-facing errors: each carries one sentence the CLI prints as-is."""


class VidcolorError(Exception):
    """An error the user can act on; the CLI prints its message on one line and exits non-zero."""


class MediaError(VidcolorError):
    """The input or output media cannot be read or written."""


class ModelError(VidcolorError):
    """A checkpoint cannot be loaded or used."""


class ConfigError(VidcolorError):
    """An option, preset or argument is invalid."""
