"""Test PKI: keys and certificates made once per session (RSA key generation is slow)."""

from __future__ import annotations

from functools import cache

from cryptography import x509

from notation_py.keys.generate import (
    Issued,
    create_root_ca,
    issue_intermediate_ca,
    issue_signing_certificate,
    notary_test_subject,
)
from notation_py.keys.local import LocalSigner


@cache
def self_signed(key_type: str = "rsa-2048", name: str = "test-signer") -> Issued:
    """A self-signed code-signing certificate like ``notation cert generate-test`` makes."""
    return issue_signing_certificate(None, notary_test_subject(name), key_type=key_type)


@cache
def ca_chain(key_type: str = "ec-256") -> tuple[Issued, Issued, Issued]:
    """(root, intermediate, leaf) with a code-signing leaf."""
    root = create_root_ca(notary_test_subject("Test Root CA"), key_type="ec-384")
    inter = issue_intermediate_ca(root, notary_test_subject("Test Team CA"), key_type="ec-384")
    leaf = issue_signing_certificate(inter, notary_test_subject("team-signer"), key_type=key_type)
    return root, inter, leaf


def chain_signer(key_type: str = "ec-256") -> LocalSigner:
    """Signer whose chain is leaf, intermediate, root."""
    root, inter, leaf = ca_chain(key_type)
    return LocalSigner(leaf.key, [leaf.certificate, inter.certificate, root.certificate])


def self_signed_signer(key_type: str = "rsa-2048") -> LocalSigner:
    """Signer with a single self-signed certificate."""
    issued = self_signed(key_type)
    return LocalSigner(issued.key, [issued.certificate])


def root_of_chain(key_type: str = "ec-256") -> x509.Certificate:
    """The root certificate of :func:`ca_chain`."""
    return ca_chain(key_type)[0].certificate
