"""Open a film with PyAV, every failure turned into one sentence a user can act on."""

from __future__ import annotations

from pathlib import Path

import av

from vidcolor.errors import InputError, MediaError

# Leading bytes of container formats: a file that starts like this but cannot be opened is damaged.
_SIGNATURES = ((4, b"ftyp"), (0, b"\x1a\x45\xdf\xa3"), (0, b"RIFF"), (4, b"moov"), (4, b"mdat"), (4, b"wide"), (4, b"free"))


def _looks_like_container(path: Path) -> bool:
    """True when the file starts with the signature of a known video container."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError:
        return False
    return any(head[off : off + len(sig)] == sig for off, sig in _SIGNATURES)


def open_container(path: Path) -> av.container.InputContainer:
    """av.open with every failure turned into one MediaError sentence."""
    try:
        return av.open(str(path), "r", metadata_errors="replace")  # damaged tags must not stop a film
    except av.error.EOFError:
        raise InputError(f"{path.name} is truncated or empty: it ends before any video frame") from None
    except av.error.InvalidDataError:
        if _looks_like_container(path):
            raise InputError(
                f"{path.name} is truncated or corrupt: its container cannot be read (header or index missing)"
            ) from None
        raise InputError(f"{path.name} is not a video file (FFmpeg cannot recognise its format)") from None
    except av.error.PermissionError:
        raise MediaError(f"{path.name} cannot be read (permission denied)") from None
    except av.error.FFmpegError as e:
        raise MediaError(f"{path.name} cannot be opened: {e.strerror or e}") from None
    except OSError as e:
        raise MediaError(f"{path.name} cannot be opened: {e.strerror or e}") from None
