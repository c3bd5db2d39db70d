"""tlog: an append-only RFC 6962 Merkle transparency log of signing events (C2SP checkpoints and tiles)."""

from importlib import metadata as _metadata

try:
    #: tlog ships in the ``notation-py`` distribution: ``[project].version`` in pyproject.toml is the one written copy.
    __version__ = _metadata.version("notation-py")
except _metadata.PackageNotFoundError:  # a source tree on sys.path, never installed
    __version__ = "0+unknown"
