"""notation_py: a Python implementation of the Notary Project signature specification.

Signatures made here verify in `notation`, and signatures made by `notation` verify here: the same
envelopes (JWS and COSE), the same signature manifests stored as OCI referrers, the same trust store
and trust policy files.

The front door (see docs/python-api.md)::

    from notation_py import Verifier, VerifierConfig, VerificationResult, Signer, SignOptions

:class:`Verifier` verifies artifacts and blobs under a notation configuration directory;
:class:`Signer` is every kind of signing key (local, PKCS#11, plugin). They are imported on first
use, so ``import notation_py`` stays cheap for a command that needs neither.
"""

from importlib import metadata as _metadata
from typing import TYPE_CHECKING, Any

try:
    #: The installed distribution's version; ``[project].version`` in pyproject.toml is the one written copy.
    __version__ = _metadata.version("notation-py")
except _metadata.PackageNotFoundError:  # a source tree on sys.path, never installed
    __version__ = "0+unknown"

#: Value of the informational ``io.cncf.notary.signingAgent`` unsigned attribute we emit.
SIGNING_AGENT = f"notation-py/{__version__}"

if TYPE_CHECKING:
    from notation_py.sign import Signer, SignOptions
    from notation_py.verifier import Verifier, VerifierConfig
    from notation_py.verify import VerificationResult

_FRONT_DOOR = {
    "Verifier": "notation_py.verifier",
    "VerifierConfig": "notation_py.verifier",
    "VerificationResult": "notation_py.verify",
    "Signer": "notation_py.sign",
    "SignOptions": "notation_py.sign",
}

__all__ = ["SIGNING_AGENT", "SignOptions", "Signer", "VerificationResult", "Verifier", "VerifierConfig", "__version__"]


def __getattr__(name: str) -> Any:
    """Import the front door's classes on first use (``from notation_py import Verifier``)."""
    module = _FRONT_DOOR.get(name)
    if module is None:
        raise AttributeError(f"module 'notation_py' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
