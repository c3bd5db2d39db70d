"""Signature algorithms of the Notary Project and the primitive operations behind them.

The signing key determines the algorithm (signature-specification.md, "Algorithm Selection"):
RSA 2048/3072/4096 -> RSASSA-PSS with SHA-256/384/512, EC P-256/384/521 -> ECDSA with SHA-256/384/512.
No other key sizes and no other algorithms are accepted. ECDSA signatures are raw ``r || s`` as in
JWS (RFC 7518) and COSE (RFC 9053).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from notation_py.errors import SignatureIntegrityError, UnsupportedEnvelopeError

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class _Spec:
    jws: str
    cose: int
    key_spec: str
    plugin_name: str
    hash_name: str
    family: str
    size: int


class Algorithm(Enum):
    """One of the six signature algorithms of the spec."""

    PS256 = _Spec("PS256", -37, "RSA-2048", "RSASSA-PSS-SHA-256", "SHA-256", "RSA", 2048)
    PS384 = _Spec("PS384", -38, "RSA-3072", "RSASSA-PSS-SHA-384", "SHA-384", "RSA", 3072)
    PS512 = _Spec("PS512", -39, "RSA-4096", "RSASSA-PSS-SHA-512", "SHA-512", "RSA", 4096)
    ES256 = _Spec("ES256", -7, "EC-256", "ECDSA-SHA-256", "SHA-256", "EC", 256)
    ES384 = _Spec("ES384", -35, "EC-384", "ECDSA-SHA-384", "SHA-384", "EC", 384)
    ES512 = _Spec("ES512", -36, "EC-521", "ECDSA-SHA-512", "SHA-512", "EC", 521)

    @property
    def jws_name(self) -> str:
        """JWS ``alg`` value, e.g. ``PS256``."""
        return self.value.jws

    @property
    def cose_id(self) -> int:
        """COSE ``alg`` label value, e.g. ``-37``."""
        return self.value.cose

    @property
    def key_spec(self) -> str:
        """Plugin-protocol key spec, e.g. ``RSA-2048``."""
        return self.value.key_spec

    @property
    def display_name(self) -> str:
        """Plugin-protocol signing algorithm name, e.g. ``RSASSA-PSS-SHA-256`` (shown by ``inspect``)."""
        return self.value.plugin_name

    @property
    def hash_name(self) -> str:
        """Plugin-protocol hash algorithm name, e.g. ``SHA-256``."""
        return self.value.hash_name

    @property
    def digest_algorithm(self) -> str:
        """OCI digest algorithm matching the hash, e.g. ``sha256``."""
        return self.value.hash_name.replace("-", "").lower()

    def new_hash(self) -> hashes.HashAlgorithm:
        """A fresh ``cryptography`` hash object for this algorithm."""
        if self.value.hash_name == "SHA-256":
            return hashes.SHA256()
        if self.value.hash_name == "SHA-384":
            return hashes.SHA384()
        return hashes.SHA512()

    @classmethod
    def from_jws(cls, name: object) -> Algorithm:
        """Look up a JWS ``alg`` value; raise for anything else (``none``, HMAC, RS256, ...)."""
        for alg in cls:
            if alg.value.jws == name:
                return alg
        raise UnsupportedEnvelopeError(f'signature algorithm "{name}" is not supported')

    @classmethod
    def from_cose(cls, label: object) -> Algorithm:
        """Look up a COSE ``alg`` label; raise for anything else."""
        if isinstance(label, int) and not isinstance(label, bool):
            for alg in cls:
                if alg.value.cose == label:
                    return alg
        raise UnsupportedEnvelopeError(f"signature algorithm {label!r} is not supported")

    @classmethod
    def for_key(cls, key: object) -> Algorithm:
        """The algorithm a public or private key must use.

        Raises:
            UnsupportedEnvelopeError: key type or size not allowed by the spec.
        """
        if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
            size = key.key_size
            family = "RSA"
        elif isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
            size = key.curve.key_size
            family = "EC"
            if key.curve.name not in ("secp256r1", "secp384r1", "secp521r1"):
                raise UnsupportedEnvelopeError(f'elliptic curve "{key.curve.name}" is not supported')
        else:
            raise UnsupportedEnvelopeError(f"key type {type(key).__name__} is not supported")
        for alg in cls:
            if alg.value.family == family and alg.value.size == size:
                return alg
        raise UnsupportedEnvelopeError(f"{family} key size {size} bits is not supported")


def _coordinate_len(alg: Algorithm) -> int:
    return (alg.value.size + 7) // 8


def sign_with_key(key: PrivateKey, alg: Algorithm, data: bytes) -> bytes:
    """Produce the raw primitive signature of ``data`` (PSS salt = hash length; ECDSA as ``r||s``)."""
    if Algorithm.for_key(key) is not alg:
        raise UnsupportedEnvelopeError(f"key does not match signature algorithm {alg.jws_name}")
    h = alg.new_hash()
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), h)
    der = key.sign(data, ec.ECDSA(h))
    r, s = decode_dss_signature(der)
    n = _coordinate_len(alg)
    return r.to_bytes(n, "big") + s.to_bytes(n, "big")


def verify_with_key(
    key: PublicKey, alg: Algorithm, data: bytes, signature: bytes, *, pss_any_salt: bool = True
) -> None:
    """Verify a raw primitive signature; raise :class:`SignatureIntegrityError` when it does not verify.

    The algorithm must be the one the key determines (no algorithm substitution). RSA-PSS accepts
    any salt length for JWS, as notation-go does; COSE (RFC 8230) requires salt length = hash length,
    as go-cose does, so COSE passes ``pss_any_salt=False``.
    """
    expected = Algorithm.for_key(key)
    if expected is not alg:
        raise SignatureIntegrityError(
            f'signature algorithm "{alg.jws_name}" does not match the signing certificate\'s key, '
            f'which requires "{expected.jws_name}"'
        )
    h = alg.new_hash()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            salt = padding.PSS.AUTO if pss_any_salt else h.digest_size
            key.verify(signature, data, padding.PSS(mgf=padding.MGF1(h), salt_length=salt), h)
        else:
            n = _coordinate_len(alg)
            if len(signature) != 2 * n:
                raise InvalidSignature
            r = int.from_bytes(signature[:n], "big")
            s = int.from_bytes(signature[n:], "big")
            key.verify(encode_dss_signature(r, s), data, ec.ECDSA(h))
    except InvalidSignature:
        # Go's wording, so logs read the same as notation's.
        reason = "crypto/rsa: verification error" if isinstance(key, rsa.RSAPublicKey) else "ecdsa: verification error"
        raise SignatureIntegrityError(reason) from None
