"""tlog: an append-only RFC 6962 Merkle transparency log of signing events (C2SP checkpoints and tiles)."""

__version__ = "0.1.0"
