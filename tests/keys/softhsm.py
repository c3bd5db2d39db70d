"""A SoftHSM2 token for the PKCS#11 tests: keys generated inside it, certificates from a test CA.

SoftHSM reads ``SOFTHSM2_CONF`` once, when the module is initialised, and python-pkcs11 keeps the
module loaded for the whole process: one token directory serves the whole test session of a process
(the session fixture ``softhsm`` in ``tests/conftest.py``).

TEST FIXTURE SECRETS: the PINs below protect a throw-away token in a temporary directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pkcs11
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from pkcs11 import Attribute, CertificateType, KeyType, ObjectClass
from pkcs11.util.ec import encode_named_curve_parameters

from notation_py.envelope.algorithms import PublicKey
from notation_py.keys.generate import CertRole, build_certificate, notary_test_subject
from notation_py.keys.pkcs11 import token_public_key
from tests.pki import ca_chain

USER_PIN = "4711-test-pin"  # test fixture only
SO_PIN = "so-test-pin-0815"  # test fixture only
TOKEN_LABEL = "notation-test"
MODULE_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)

#: Keys generated in the token: label -> (key type, RSA bits or curve, CKA_ID).
TOKEN_KEYS: dict[str, tuple[KeyType, int | str, bytes]] = {
    "rsa-2048": (KeyType.RSA, 2048, b"\x01"),
    "rsa-3072": (KeyType.RSA, 3072, b"\x02"),
    "rsa-4096": (KeyType.RSA, 4096, b"\x03"),
    "ec-256": (KeyType.EC, "secp256r1", b"\x11"),
    "ec-384": (KeyType.EC, "secp384r1", b"\x12"),
    "ec-521": (KeyType.EC, "secp521r1", b"\x13"),
    # An EC key whose public key object is deleted: the signer must prove the pairing by signing.
    "ec-256-nopub": (KeyType.EC, "secp256r1", b"\x14"),
    # Two keys with the same label: a URI naming only the label is ambiguous.
    "twin": (KeyType.EC, "secp256r1", b"\x21"),
}


@dataclass
class SoftHsm:
    """The session's token, its keys' public halves and helpers to make URIs and certificates."""

    module: str
    directory: Path
    public_keys: dict[str, PublicKey] = field(default_factory=dict)

    def uri(self, label: str | None = None, *, key_id: bytes | None = None, query: dict[str, str] | None = None) -> str:
        """``pkcs11:token=notation-test;object=<label>?module-path=...`` plus extra query attributes."""
        path = [f"token={TOKEN_LABEL}"]
        if label is not None:
            path.append(f"object={label}")
        if key_id is not None:
            path.append("id=" + "".join(f"%{b:02x}" for b in key_id))
        params = {"module-path": self.module, **(query or {})}
        return "pkcs11:" + ";".join(path) + "?" + "&".join(f"{k}={v}" for k, v in params.items())

    def session(self, rw: bool = False) -> pkcs11.Session:
        """A logged-in session (close it: tests of wrong PINs need no other session logged in)."""
        token = pkcs11.lib(self.module).get_token(token_label=TOKEN_LABEL)
        return token.open(rw=rw, user_pin=USER_PIN)

    def leaf_chain(
        self,
        label: str,
        *,
        validity: timedelta = timedelta(days=30),
        not_before: datetime | None = None,
        extra: tuple[tuple[x509.ExtensionType, bool], ...] = (),
        common_name: str | None = None,
    ) -> list[x509.Certificate]:
        """A code-signing certificate for the token key ``label`` from the test CA: [leaf, intermediate, root]."""
        root, inter, _ = ca_chain()
        leaf = build_certificate(
            role=CertRole.LEAF,
            subject=notary_test_subject(common_name or f"hsm-{label}"),
            public_key=self.public_keys[label],
            issuer_key=inter.key,
            issuer_cert=inter.certificate,
            validity=validity,
            not_before=not_before,
            extra_extensions=extra,
        )
        return [leaf, inter.certificate, root.certificate]

    def wrong_usage_chain(self, label: str) -> list[x509.Certificate]:
        """A TLS-server certificate (keyUsage with keyEncipherment, EKU serverAuth) for ``label``: not for code signing."""
        root, inter, _ = ca_chain()
        now = datetime.now(UTC)
        usage = x509.KeyUsage(
            digital_signature=True,
            content_commitment=False,
            key_encipherment=True,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=False,
            crl_sign=False,
            encipher_only=False,
            decipher_only=False,
        )
        leaf = (
            x509.CertificateBuilder()
            .subject_name(notary_test_subject("tls-server"))
            .issuer_name(inter.certificate.subject)
            .public_key(self.public_keys[label])
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(usage, critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(inter.key, hashes.SHA384())
        )
        return [leaf, inter.certificate, root.certificate]

    def write_chain(self, path: Path, chain: list[x509.Certificate]) -> Path:
        """Write ``chain`` as PEM to ``path``."""
        path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain))
        return path

    def store_certificates(self, label: str, chain: list[x509.Certificate]) -> None:
        """Put ``chain`` on the token: the leaf with the key's CKA_ID, the CAs with their own ids."""
        key_id = TOKEN_KEYS[label][2]
        with self.session(rw=True) as session:
            for i, cert in enumerate(chain):
                attrs: dict[Attribute, Any] = {
                    Attribute.CLASS: ObjectClass.CERTIFICATE,
                    Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                    Attribute.TOKEN: True,
                    Attribute.VALUE: cert.public_bytes(serialization.Encoding.DER),
                    Attribute.SUBJECT: cert.subject.public_bytes(),
                    Attribute.LABEL: f"{label}-cert-{i}",
                    Attribute.ID: key_id if i == 0 else key_id + bytes([0xC0 + i]),
                }
                session.create_object(attrs)


def _module() -> str | None:
    return next((m for m in MODULE_CANDIDATES if Path(m).is_file()), None)


def _generate(session: pkcs11.Session, label: str, spec: tuple[KeyType, int | str, bytes]) -> None:
    key_type, size, key_id = spec
    if key_type == KeyType.RSA:
        assert isinstance(size, int)
        session.generate_keypair(KeyType.RSA, size, label=label, id=key_id, store=True)
        return
    assert isinstance(size, str)
    params = session.create_domain_parameters(
        KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters(size)}, local=True
    )
    params.generate_keypair(label=label, id=key_id, store=True)


def start_softhsm(root: Path, monkeypatch: pytest.MonkeyPatch) -> SoftHsm:
    """Make a token under ``root`` and generate :data:`TOKEN_KEYS` in it (the ``softhsm`` fixture does this once).

    ``SOFTHSM2_CONF`` is set with ``monkeypatch`` (SoftHSM reads it when the module is initialised, and
    python-pkcs11 keeps the module loaded for the whole process). Fails when SoftHSM2 is missing.
    """
    module = _module()
    util = shutil.which("softhsm2-util")
    if module is None or util is None:
        # A required component, like the registry and openssl: missing, the suite fails rather than skips.
        pytest.fail("SoftHSM2 is not installed (Debian package softhsm2; scripts/test.sh installs it)")
    tokens = root / "tokens"
    tokens.mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    lib = pkcs11.lib(module)
    lib.reinitialize()  # SoftHSM reads SOFTHSM2_CONF when initialised
    subprocess.run(
        [util, "--init-token", "--free", "--label", TOKEN_LABEL, "--pin", USER_PIN, "--so-pin", SO_PIN],
        check=True,
        capture_output=True,
        env={**os.environ, "SOFTHSM2_CONF": str(conf)},
    )
    lib.reinitialize()  # see the token initialised by the other process
    hsm = SoftHsm(module=module, directory=root)
    with hsm.session(rw=True) as session:
        # RSA key generation dominates the set-up: run it on both cores (python-pkcs11 releases the GIL;
        # the extra sessions share the logged-in state of this one).
        token = session.token

        def generate_in_own_session(item: tuple[str, tuple[KeyType, int | str, bytes]]) -> None:
            with token.open(rw=True) as own:
                _generate(own, *item)

        rsa_keys = [item for item in TOKEN_KEYS.items() if item[1][0] == KeyType.RSA]
        with ThreadPoolExecutor(max_workers=len(rsa_keys)) as pool:
            list(pool.map(generate_in_own_session, sorted(rsa_keys, key=lambda item: -int(item[1][1]))))
        for label, spec in TOKEN_KEYS.items():
            if spec[0] != KeyType.RSA:
                _generate(session, label, spec)
        _generate(session, "twin", (KeyType.EC, "secp256r1", b"\x22"))
        for label in TOKEN_KEYS:
            if label == "twin":
                continue
            key = session.get_key(ObjectClass.PRIVATE_KEY, label=label)
            assert isinstance(key, pkcs11.PrivateKey)
            public = token_public_key(session, key)
            assert public is not None
            hsm.public_keys[label] = public
        session.get_key(ObjectClass.PUBLIC_KEY, label="ec-256-nopub").destroy()
    return hsm


def validity_window(days_ago: int, days: int) -> tuple[datetime, timedelta]:
    """``not_before`` ``days_ago`` days back and a validity of ``days`` days."""
    return datetime.now(UTC) - timedelta(days=days_ago), timedelta(days=days)
