"""Signing with a key held in a PKCS#11 token (HSM, smart card, SoftHSM): the key never leaves the token.

:class:`Pkcs11Signer` is a :class:`~notation_py.envelope.model.PrimitiveSigner`. The key is named by
an RFC 7512 URI (:mod:`notation_py.keys.pkcs11_uri`); the certificate chain comes from a file or,
when none is given, from the certificate objects on the token. The algorithm is the one the leaf
certificate's key requires (RSA 2048/3072/4096 → RSASSA-PSS with SHA-256/384/512 and a salt as long
as the hash; EC P-256/384/521 → ECDSA with SHA-256/384/512), as the Notary Project specifies.

The token computes the signature. Where it has a combined mechanism (``CKM_SHA256_RSA_PKCS_PSS``,
``CKM_ECDSA_SHA256``, ...) it hashes too; otherwise the data is hashed here and the token signs the
digest (``CKM_RSA_PKCS_PSS``, ``CKM_ECDSA``), which is what many tokens (SoftHSM among them) offer
for ECDSA. PKCS#11 returns ECDSA signatures as ``r || s``, the form JWS and COSE use; a DER
signature from a non-conforming token is converted with ``cryptography``. Every signature is
verified with the leaf certificate's public key before it is returned, so a wrong certificate or
a misbehaving token fails signing instead of producing an envelope that cannot verify.

A session is opened and logged into for each operation and closed right after it: nothing stays
logged in between signatures, and the PIN is read once, when the signer is built.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from notation_py.envelope.algorithms import Algorithm, PublicKey, verify_with_key
from notation_py.errors import (
    CertificateError,
    SignatureIntegrityError,
    SigningError,
    SigningKeyError,
    UnsupportedEnvelopeError,
)
from notation_py.keys.passphrase import ENV_PKCS11_PIN, PromptFn, obtain_secret, read_secret_file
from notation_py.keys.pkcs11_uri import Pkcs11Uri, pin_source_path

try:  # python-pkcs11 is the optional extra notation-py[pkcs11]
    import pkcs11
    from pkcs11 import MGF, Attribute, CertificateType, KeyType, Mechanism, ObjectClass, TokenFlag
    from pkcs11 import exceptions as p11e
    from pkcs11.types import SignMixin
    from pkcs11.util.ec import encode_ec_public_key
except ModuleNotFoundError as exc:
    if exc.name != "pkcs11":
        raise
    raise SigningKeyError("PKCS#11 keys need python-pkcs11: pip install 'notation-py[pkcs11]'") from None

if TYPE_CHECKING:
    from pkcs11._pkcs11 import lib as Pkcs11Lib  # noqa: N812

#: Module used when a URI has neither ``module-path`` nor ``module-name``.
ENV_PKCS11_MODULE = "NOTATION_PKCS11_MODULE"

#: Directories searched for ``module-name=NAME`` (``NAME.so`` or ``libNAME.so``), as p11-kit does.
MODULE_DIRS = (
    "/usr/lib/x86_64-linux-gnu/pkcs11",
    "/usr/lib/aarch64-linux-gnu/pkcs11",
    "/usr/lib64/pkcs11",
    "/usr/lib/pkcs11",
    "/usr/local/lib/pkcs11",
    "/usr/lib/softhsm",
    "/usr/lib/x86_64-linux-gnu/softhsm",
    "/usr/local/lib/softhsm",
    "/usr/lib64",
    "/usr/lib",
)

_PSS_MECHANISMS = {
    "SHA-256": (Mechanism.SHA256_RSA_PKCS_PSS, Mechanism.SHA256, MGF.SHA256),
    "SHA-384": (Mechanism.SHA384_RSA_PKCS_PSS, Mechanism.SHA384, MGF.SHA384),
    "SHA-512": (Mechanism.SHA512_RSA_PKCS_PSS, Mechanism.SHA512, MGF.SHA512),
}
_ECDSA_MECHANISMS = {
    "SHA-256": Mechanism.ECDSA_SHA256,
    "SHA-384": Mechanism.ECDSA_SHA384,
    "SHA-512": Mechanism.ECDSA_SHA512,
}

# python-pkcs11 raises exceptions without messages: say what each means.
_PKCS11_REASONS: dict[type[Exception], str] = {
    p11e.PinIncorrect: "wrong PIN",
    p11e.PinLocked: "the PIN is locked (too many wrong attempts)",
    p11e.PinExpired: "the PIN has expired",
    p11e.PinInvalid: "the PIN contains characters the token does not accept",
    p11e.PinLenRange: "the PIN is too long or too short for the token",
    p11e.TokenNotPresent: "the token is not present",
    p11e.TokenNotRecognised: "the token is not recognised",
    p11e.DeviceRemoved: "the token was removed",
    p11e.DeviceError: "the token reported a device error",
    p11e.MechanismInvalid: "the token does not support the mechanism",
    p11e.UserNotLoggedIn: "not logged in to the token",
    p11e.UserPinNotInitialized: "the token's user PIN is not initialised",
}


def describe_pkcs11_error(exc: BaseException) -> str:
    """A readable reason for a python-pkcs11 exception (which usually carries no message)."""
    for cls, reason in _PKCS11_REASONS.items():
        if isinstance(exc, cls):
            return reason
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else f"PKCS#11 error {type(exc).__name__}"


@dataclass(frozen=True)
class Pkcs11KeySpec:
    """Where a PKCS#11 signing key is and how to reach it.

    Attributes:
        uri: The key's RFC 7512 URI.
        cert_path: The certificate chain file (leaf first, root last); ``None`` reads it from the token.
        pin_file: A file holding the user PIN (used when the URI has no ``pin-source``/``pin-value``).
        name: The key's name in ``signingkeys.json``, for messages.
    """

    uri: Pkcs11Uri
    cert_path: Path | None = None
    pin_file: Path | None = None
    name: str | None = None

    @property
    def label(self) -> str:
        """How messages name the key."""
        return f'PKCS#11 key "{self.name}"' if self.name else f"PKCS#11 key {self.uri.redacted}"


# ------------------------------------------------------------------------------------------------
# Module, token, PIN, session
# ------------------------------------------------------------------------------------------------


def resolve_module_path(uri: Pkcs11Uri) -> Path:
    """The PKCS#11 module (shared library) to load: ``module-path``, else ``module-name``, else the variable.

    Raises:
        SigningKeyError: no module named, or the named one does not exist.
    """
    if uri.module_path:
        path = Path(uri.module_path).expanduser()
        if not path.is_file():
            raise SigningKeyError(f"PKCS#11 module {path} (module-path of {uri.redacted}) does not exist")
        return path
    if uri.module_name:
        name = uri.module_name
        for directory in MODULE_DIRS:
            for candidate in (f"{name}.so", f"lib{name}.so", name):
                path = Path(directory) / candidate
                if path.is_file():
                    return path
        raise SigningKeyError(
            f'PKCS#11 module-name "{name}" was not found in {", ".join(MODULE_DIRS)}; use module-path= instead'
        )
    env = os.environ.get(ENV_PKCS11_MODULE)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise SigningKeyError(f"PKCS#11 module {path} (from {ENV_PKCS11_MODULE}) does not exist")
        return path
    raise SigningKeyError(
        f"no PKCS#11 module for {uri.redacted}: add ?module-path=/path/to/module.so to the URI "
        f"or set {ENV_PKCS11_MODULE}"
    )


def load_module(path: Path) -> Pkcs11Lib:
    """Load (once per process) and initialise the PKCS#11 module at ``path``.

    Raises:
        SigningKeyError: the file is not a loadable PKCS#11 module, or it failed to initialise.
    """
    try:
        return pkcs11.lib(str(path))
    except p11e.PKCS11Error as exc:
        raise SigningKeyError(f"cannot load PKCS#11 module {path}: {describe_pkcs11_error(exc)}") from None
    except OSError as exc:
        raise SigningKeyError(f"cannot load PKCS#11 module {path}: {exc}") from None


def _token_text(value: str | bytes) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").rstrip(" \x00")
    return value.rstrip(" \x00")


def find_token(lib: Pkcs11Lib, uri: Pkcs11Uri) -> pkcs11.Token:
    """The one token the URI's token, slot and library attributes select.

    Raises:
        SigningKeyError: the library does not match, or no token or more than one matches.
    """
    if uri.library_manufacturer is not None and _token_text(lib.manufacturer_id) != uri.library_manufacturer:
        raise SigningKeyError(
            f'PKCS#11 module {lib.so} is made by "{_token_text(lib.manufacturer_id)}", '
            f'not "{uri.library_manufacturer}" as {uri.redacted} requires'
        )
    if uri.library_description is not None and _token_text(lib.library_description) != uri.library_description:
        raise SigningKeyError(f"PKCS#11 module {lib.so} does not match library-description of {uri.redacted}")
    if uri.library_version is not None:
        major, minor = lib.library_version
        wanted = uri.library_version if "." in uri.library_version else uri.library_version + ".0"
        if wanted != f"{major}.{minor}":
            raise SigningKeyError(f"PKCS#11 module {lib.so} is version {major}.{minor}, not {uri.library_version}")
    try:
        slots = lib.get_slots(token_present=True)
    except p11e.PKCS11Error as exc:
        raise SigningKeyError(
            f"cannot list the slots of PKCS#11 module {lib.so}: {describe_pkcs11_error(exc)}"
        ) from None
    matches: list[pkcs11.Token] = []
    seen: list[str] = []
    for slot in slots:
        try:
            token = slot.get_token()
            if not token.flags & TokenFlag.TOKEN_INITIALIZED:
                continue  # an empty slot of a software token, or a card that was never set up
            label = _token_text(token.label)
            seen.append(label or f"slot {slot.slot_id}")
            checks = (
                (uri.slot_id, slot.slot_id),
                (uri.slot_description, _token_text(slot.slot_description)),
                (uri.slot_manufacturer, _token_text(slot.manufacturer_id)),
                (uri.token, label),
                (uri.manufacturer, _token_text(token.manufacturer_id)),
                (uri.serial, _token_text(token.serial)),
                (uri.model, _token_text(token.model)),
            )
        except p11e.PKCS11Error:
            continue  # a slot whose token cannot be read (uninitialised, removed) matches nothing
        if all(wanted is None or wanted == actual for wanted, actual in checks):
            matches.append(token)
    if not matches:
        available = ", ".join(f'"{s}"' for s in seen) or "none"
        raise SigningKeyError(
            f"no PKCS#11 token matches {uri.describe_token()} in module {lib.so} (tokens present: {available})"
        )
    if len(matches) > 1:
        raise SigningKeyError(
            f"{len(matches)} PKCS#11 tokens match {uri.describe_token()} in module {lib.so}: add token= or serial="
        )
    return matches[0]


def obtain_pin(spec: Pkcs11KeySpec, prompt: PromptFn | None = None) -> str:
    """The user PIN: URI ``pin-value``, URI ``pin-source``, the configured PIN file, ``$NOTATION_PKCS11_PIN``, a prompt.

    Raises:
        SigningKeyError: no source gave a PIN, or the PIN file cannot be read.
    """
    uri = spec.uri
    what = f"PIN of {spec.label}"
    if uri.pin_value is not None:
        return uri.pin_value
    if uri.pin_source is not None:
        path = Path(pin_source_path(uri.pin_source, SigningKeyError))
        return read_secret_file(path, what, SigningKeyError).decode()
    secret = obtain_secret(
        what=what,
        file=spec.pin_file,
        env=ENV_PKCS11_PIN,
        file_flag="pin-source=file:... in the URI, --pin-file FILE or pinFile in signingkeys.json",
        error=SigningKeyError,
        prompt=prompt,
    )
    return secret.decode()


@contextmanager
def logged_in_session(token: pkcs11.Token, pin: str, label: str, rw: bool = False) -> Iterator[pkcs11.Session]:
    """A session logged in as the user; closing it logs out.

    Args:
        token: The token.
        pin: The user PIN.
        label: Names the key in messages.
        rw: Open a read/write session.

    Raises:
        SigningKeyError: wrong, locked or expired PIN, or the token cannot open a session.
    """
    name = _token_text(token.label)
    try:
        session = token.open(rw=rw, user_pin=pin)
    except p11e.UserAlreadyLoggedIn:
        # Login state is per process: another live session of this process is logged in already
        # (python-pkcs11 logs out when a logged-in session is closed, so ours never linger).
        session = token.open(rw=rw)
    except p11e.PKCS11Error as exc:
        raise SigningKeyError(
            f'{label}: cannot log in to PKCS#11 token "{name}": {describe_pkcs11_error(exc)}'
        ) from None
    try:
        yield session
    finally:
        with suppress(p11e.PKCS11Error):
            session.close()


# ------------------------------------------------------------------------------------------------
# Objects on the token
# ------------------------------------------------------------------------------------------------


def _object_attrs(uri: Pkcs11Uri, object_class: ObjectClass) -> dict[Attribute, Any]:
    attrs: dict[Attribute, Any] = {Attribute.CLASS: object_class}
    if uri.object_label is not None:
        attrs[Attribute.LABEL] = uri.object_label
    if uri.object_id is not None:
        attrs[Attribute.ID] = uri.object_id
    return attrs


def find_private_key(session: pkcs11.Session, uri: Pkcs11Uri, label: str) -> pkcs11.PrivateKey:
    """The one private key the URI's ``object``/``id`` select.

    Raises:
        SigningKeyError: the URI names another object type, or no key or more than one matches.
    """
    if uri.object_type is not None and uri.object_type != "private":
        raise SigningKeyError(f"{label}: the URI must name a private key (type=private), not type={uri.object_type}")
    try:
        found = list(session.get_objects(_object_attrs(uri, ObjectClass.PRIVATE_KEY)))
    except p11e.PKCS11Error as exc:
        raise SigningKeyError(f"{label}: cannot search the token: {describe_pkcs11_error(exc)}") from None
    token = _token_text(session.token.label)
    if not found:
        raise SigningKeyError(f'{label}: no private key with {uri.describe_object()} on PKCS#11 token "{token}"')
    if len(found) > 1:
        raise SigningKeyError(
            f'{label}: {len(found)} private keys match {uri.describe_object()} on PKCS#11 token "{token}": '
            "add object= or id= to the URI"
        )
    key = found[0]
    if not isinstance(key, pkcs11.PrivateKey):
        raise SigningKeyError(f"{label}: the object found is not a private key")
    if not isinstance(key, SignMixin):
        raise SigningKeyError(f"{label}: the token does not allow this key to sign (CKA_SIGN is false)")
    return key


def _same_object_attrs(key: pkcs11.Key, object_class: ObjectClass) -> dict[Attribute, Any] | None:
    """Attributes that find the objects sharing ``key``'s CKA_ID (or, without one, its label)."""
    attrs: dict[Attribute, Any] = {Attribute.CLASS: object_class}
    try:
        key_id = key[Attribute.ID]
    except p11e.PKCS11Error:
        key_id = b""
    if key_id:
        attrs[Attribute.ID] = key_id
        return attrs
    try:
        key_label = key[Attribute.LABEL]
    except p11e.PKCS11Error:
        key_label = ""
    if key_label:
        attrs[Attribute.LABEL] = key_label
        return attrs
    return None


def token_public_key(session: pkcs11.Session, key: pkcs11.PrivateKey) -> PublicKey | None:
    """The public half of ``key`` read from the token, or ``None`` when the token does not reveal it.

    RSA: the modulus and exponent of the private key object. EC: the public key object with the same
    CKA_ID (or label), encoded by python-pkcs11.
    """
    try:
        if key.key_type == KeyType.RSA:
            n = int.from_bytes(key[Attribute.MODULUS], "big")
            e = int.from_bytes(key[Attribute.PUBLIC_EXPONENT], "big")
            return rsa.RSAPublicNumbers(e, n).public_key()
    except p11e.PKCS11Error:
        pass  # not readable on this token: try the public key object
    attrs = _same_object_attrs(key, ObjectClass.PUBLIC_KEY)
    if attrs is None:
        return None
    try:
        publics = [obj for obj in session.get_objects(attrs) if isinstance(obj, pkcs11.PublicKey)]
    except p11e.PKCS11Error:
        return None
    if len(publics) != 1:
        return None
    public = publics[0]
    try:
        if public.key_type == KeyType.RSA:
            n = int.from_bytes(public[Attribute.MODULUS], "big")
            e = int.from_bytes(public[Attribute.PUBLIC_EXPONENT], "big")
            return rsa.RSAPublicNumbers(e, n).public_key()
        if public.key_type == KeyType.EC:
            loaded = serialization.load_der_public_key(encode_ec_public_key(public))
            if isinstance(loaded, ec.EllipticCurvePublicKey):
                return loaded
    except (p11e.PKCS11Error, ValueError):
        return None
    return None


def token_certificates(session: pkcs11.Session) -> list[x509.Certificate]:
    """Every X.509 certificate object on the token (unparsable ones are skipped)."""
    certs: list[x509.Certificate] = []
    for obj in session.get_objects(
        {Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.CERTIFICATE_TYPE: CertificateType.X_509}
    ):
        try:
            certs.append(x509.load_der_x509_certificate(obj[Attribute.VALUE]))
        except (p11e.PKCS11Error, ValueError):
            continue
    return certs


def _spki(key: object) -> bytes:
    if isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return b""


def chain_from_token(
    session: pkcs11.Session, key: pkcs11.PrivateKey, public: PublicKey | None, label: str
) -> list[x509.Certificate]:
    """The key's certificate and its issuers up to a self-signed root, from the token's certificate objects.

    The leaf is the certificate whose public key is the key's (or, when the token does not reveal
    the public key, the certificate object with the key's CKA_ID or label).

    Raises:
        SigningKeyError: no leaf for the key, or no issuer path to a root among the token's certificates.
    """
    from notation_py.x509.chain import is_issued_by, is_self_signed

    certs = token_certificates(session)
    leaf: x509.Certificate | None = None
    if public is not None:
        wanted = _spki(public)
        leaf = next((c for c in certs if _spki(c.public_key()) == wanted), None)
    else:
        attrs = _same_object_attrs(key, ObjectClass.CERTIFICATE)
        if attrs is not None:
            for obj in session.get_objects(attrs):
                try:
                    leaf = x509.load_der_x509_certificate(obj[Attribute.VALUE])
                    break
                except (p11e.PKCS11Error, ValueError):
                    continue
    if leaf is None:
        raise SigningKeyError(
            f"{label}: the token holds no certificate for the key; store it on the token or give a certificate "
            "chain file (certPath)"
        )
    chain = [leaf]
    while not is_self_signed(chain[-1]):
        issuer = next((c for c in certs if c not in chain and is_issued_by(chain[-1], c)), None)
        if issuer is None:
            raise SigningKeyError(
                f"{label}: the token holds no issuer of {chain[-1].subject.rfc4514_string()}; the chain must "
                "reach a root: store the CA certificates on the token or give a certificate chain file (certPath)"
            )
        chain.append(issuer)
    return chain


# ------------------------------------------------------------------------------------------------
# The signer
# ------------------------------------------------------------------------------------------------


def _token_for(spec: Pkcs11KeySpec) -> pkcs11.Token:
    """The token holding ``spec``'s key; errors name the key."""
    try:
        return find_token(load_module(resolve_module_path(spec.uri)), spec.uri)
    except SigningKeyError as exc:
        raise SigningKeyError(f"{spec.label}: {exc.message}") from None


def _digest(alg: Algorithm, data: bytes) -> bytes:
    h = hashes.Hash(alg.new_hash())
    h.update(data)
    return h.finalize()


def raw_ecdsa_signature(signature: bytes, curve_bits: int) -> bytes:
    """Normalise a token's ECDSA signature to fixed-length ``r || s`` (what JWS and COSE carry).

    PKCS#11 specifies ``r || s``, each as long as the curve order; a DER ``ECDSA-Sig-Value`` from a
    non-conforming token is decoded with ``cryptography``.

    Raises:
        SigningError: neither form.
    """
    n = (curve_bits + 7) // 8
    if len(signature) == 2 * n:
        return signature
    try:
        r, s = decode_dss_signature(signature)
    except ValueError:
        if len(signature) % 2 or len(signature) > 2 * n:
            raise SigningError(f"the token returned an ECDSA signature of unexpected length {len(signature)}") from None
        half = len(signature) // 2
        r, s = int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
    return r.to_bytes(n, "big") + s.to_bytes(n, "big")


class Pkcs11Signer:
    """A :class:`~notation_py.envelope.model.PrimitiveSigner` whose private key stays in a PKCS#11 token."""

    def __init__(self, spec: Pkcs11KeySpec, *, prompt: PromptFn | None = None, now: datetime | None = None) -> None:
        """Find the module, token, key and certificate chain, and check that they belong together.

        Args:
            spec: The key's URI, certificate chain file and PIN file.
            prompt: Terminal reader for the PIN (tests).
            now: The time the certificate chain must be valid at (default: now).

        Raises:
            SigningKeyError: the module, token or key cannot be found, the PIN is wrong, the token
                has no usable mechanism, or the certificate chain is missing, breaks the Notary
                certificate rules (expired, wrong key usage, ...) or does not belong to the key.
        """
        from notation_py.x509.chain import validate_code_signing_chain

        self._spec = spec
        self._label = spec.label
        self._token = _token_for(spec)
        self._pin = obtain_pin(spec, prompt)
        with logged_in_session(self._token, self._pin, self._label) as session:
            key = find_private_key(session, spec.uri, self._label)
            public = token_public_key(session, key)
            if spec.cert_path is not None:
                chain = _read_chain_file(spec.cert_path, self._label)
            else:
                chain = chain_from_token(session, key, public, self._label)
            self._chain = tuple(chain)
            leaf_key = chain[0].public_key()
            if not isinstance(leaf_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
                raise SigningKeyError(f"{self._label}: the leaf certificate's key is neither RSA nor EC")
            self._leaf_key: PublicKey = leaf_key
            try:
                self._algorithm = Algorithm.for_key(leaf_key)
            except UnsupportedEnvelopeError as exc:
                raise SigningKeyError(f"{self._label}: signing key is not supported: {exc.message}") from None
            expected = KeyType.RSA if isinstance(leaf_key, rsa.RSAPublicKey) else KeyType.EC
            if key.key_type != expected:
                raise SigningKeyError(
                    f"{self._label}: the token key is {key.key_type.name} but the leaf certificate has an "
                    f"{expected.name} key"
                )
            self._mechanism, self._param, self._prehash = self._choose_mechanism()
            if public is not None and _spki(public) != _spki(leaf_key):
                raise SigningKeyError(
                    f"{self._label}: the signing key does not match the public key of the leaf certificate"
                )
        where = spec.cert_path if spec.cert_path is not None else "the token"
        try:
            validate_code_signing_chain(self._chain, now or datetime.now(UTC))
        except CertificateError as exc:
            raise SigningKeyError(
                f"{self._label}: the certificate chain from {where} cannot be used for signing: {exc.message}"
            ) from None
        if public is None:
            # The token does not reveal the public key: prove the pairing with one signature.
            try:
                self.sign(b"notation-py PKCS#11 key check")
            except SigningError as exc:
                raise SigningKeyError(f"{self._label}: {exc.message}") from None

    @property
    def algorithm(self) -> Algorithm:
        """The algorithm the leaf certificate's key requires."""
        return self._algorithm

    @property
    def certificate_chain(self) -> tuple[x509.Certificate, ...]:
        """Leaf-first chain."""
        return self._chain

    @property
    def mechanism(self) -> Mechanism:
        """The PKCS#11 mechanism used (combined hash-and-sign, or sign-only over a local digest)."""
        return self._mechanism

    def _choose_mechanism(self) -> tuple[Mechanism, Any, bool]:
        try:
            available = self._token.slot.get_mechanisms()
        except p11e.PKCS11Error:
            available = set()
        hash_name = self._algorithm.hash_name
        if isinstance(self._leaf_key, rsa.RSAPublicKey):
            combined, hash_mech, mgf = _PSS_MECHANISMS[hash_name]
            param = (hash_mech, mgf, self._algorithm.new_hash().digest_size)
            if combined in available:
                return combined, param, False
            if Mechanism.RSA_PKCS_PSS in available:
                return Mechanism.RSA_PKCS_PSS, param, True
            raise SigningKeyError(f"{self._label}: the token supports neither {combined.name} nor RSA_PKCS_PSS")
        ecdsa = _ECDSA_MECHANISMS[hash_name]
        if ecdsa in available:
            return ecdsa, None, False
        if Mechanism.ECDSA in available:
            return Mechanism.ECDSA, None, True
        raise SigningKeyError(f"{self._label}: the token supports neither {ecdsa.name} nor ECDSA")

    def sign(self, data: bytes) -> bytes:
        """Have the token sign ``data``; the raw signature (ECDSA as ``r || s``), checked against the leaf.

        Raises:
            SigningKeyError: the token cannot be logged into or the key is gone.
            SigningError: the token refused to sign or returned a signature that does not verify.
        """
        payload = _digest(self._algorithm, data) if self._prehash else data
        with logged_in_session(self._token, self._pin, self._label) as session:
            key = find_private_key(session, self._spec.uri, self._label)
            assert isinstance(key, SignMixin)  # find_private_key checks it
            try:
                signature: bytes = key.sign(payload, mechanism=self._mechanism, mechanism_param=self._param)
            except p11e.PKCS11Error as exc:
                raise SigningError(
                    f"{self._label}: the token could not sign with {self._mechanism.name}: {describe_pkcs11_error(exc)}"
                ) from None
        if isinstance(self._leaf_key, ec.EllipticCurvePublicKey):
            signature = raw_ecdsa_signature(signature, self._leaf_key.curve.key_size)
        try:
            verify_with_key(self._leaf_key, self._algorithm, data, signature, pss_any_salt=False)
        except SignatureIntegrityError:
            raise SigningError(
                f"{self._label}: the token's signature does not verify with the leaf certificate: the certificate "
                "does not belong to the key"
            ) from None
        return signature


def _read_chain_file(path: Path, label: str) -> list[x509.Certificate]:
    from notation_py.x509.certs import read_certificate_file

    try:
        return read_certificate_file(path)
    except CertificateError as exc:
        raise SigningKeyError(f"{label}: cannot read the certificate chain {path}: {exc.message}") from None


def read_token_public_key(spec: Pkcs11KeySpec, prompt: PromptFn | None = None) -> PublicKey:
    """The public key of the token key ``spec`` names (to issue a certificate for it).

    Raises:
        SigningKeyError: the key cannot be reached, or the token does not reveal its public key.
    """
    token = _token_for(spec)
    pin = obtain_pin(spec, prompt)
    with logged_in_session(token, pin, spec.label) as session:
        key = find_private_key(session, spec.uri, spec.label)
        public = token_public_key(session, key)
    if public is None:
        raise SigningKeyError(
            f"{spec.label}: the token does not reveal the public key (no public key object with the key's id); "
            "export it and pass it as a PEM file"
        )
    return public
