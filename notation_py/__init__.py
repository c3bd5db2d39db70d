"""notation_py: a Python implementation of the Notary Project signature specification.

Signatures made here verify in `notation`, and signatures made by `notation` verify here: the same
envelopes (JWS and COSE), the same signature manifests stored as OCI referrers, the same trust store
and trust policy files.
"""

__version__ = "0.1.0"

#: Value of the informational ``io.cncf.notary.signingAgent`` unsigned attribute we emit.
SIGNING_AGENT = f"notation-py/{__version__}"
