"""The ``--key-type`` values, apart from :mod:`notation_py.keys.generate` so that naming them loads no cryptography.

The CLI shows them in its help text, which is built at start-up.
"""

from __future__ import annotations

#: ``--key-type`` values and the keys they make.
KEY_TYPES = ("rsa-2048", "rsa-3072", "rsa-4096", "ec-256", "ec-384", "ec-521")

__all__ = ["KEY_TYPES"]
