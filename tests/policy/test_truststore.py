"""The X.509 trust store: notation-go loading rules and messages, and certificate management."""

from __future__ import annotations

import os
import re
import shutil
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from notation_py.errors import TrustStoreError
from notation_py.policy.truststore import (
    CertificateFile,
    StoreType,
    X509TrustStore,
    is_valid_store_name,
    load_policy_certificates,
    policy_uses_tsa,
    validate_trust_store_certificates,
)
from tests.conformance import cases_of_kind, vector
from tests.policy.certs import NOTARY, make_cert, name, pem


@pytest.fixture
def conformance_store() -> X509TrustStore:
    return X509TrustStore.from_config_dir(vector("notation-go"))


def _store_cases() -> list[Any]:
    groups = cases_of_kind("truststore")
    assert len(groups) == 1
    return [pytest.param(c, id=c["store"]) for c in groups[0]["cases"]]


@pytest.mark.parametrize("case", _store_cases())
def test_conformance_store_loading(conformance_store: X509TrustStore, case: dict[str, Any]) -> None:
    store_type, store_name = case["store"].split(":")
    if "error" not in case:
        assert conformance_store.certificates(store_type, store_name)
        return
    with pytest.raises(TrustStoreError) as info:
        conformance_store.certificates(store_type, store_name)
    assert info.value.message == case["error"]
    if "innerError" in case:
        assert isinstance(info.value.__cause__, TrustStoreError)
        assert info.value.__cause__.message == case["innerError"]


def test_valid_store_contents(conformance_store: X509TrustStore) -> None:
    certs = conformance_store.certificates(StoreType.CA, "valid-trust-store")
    # Six files, one certificate each, in file-name order (GlobalSign.der sorts first).
    assert len(certs) == 6
    assert certs[0].subject == certs[1].subject  # GlobalSign.der and GlobalSignRootCA.crt
    tsa = conformance_store.certificates("tsa", "test-timestamp")
    assert len(tsa) == 1


def test_cache_returns_copies(conformance_store: X509TrustStore) -> None:
    first = conformance_store.certificates("ca", "valid-trust-store")
    first.clear()
    assert len(conformance_store.certificates("ca", "valid-trust-store")) == 6


# --- stores built in tmp_path ------------------------------------------------------------------------


@cache
def _root_ca() -> x509.Certificate:
    return make_cert(name(*NOTARY, ("CN", "Root")), ca=True, key_usage_cert_sign=True, label="root")


@cache
def _leaf_signed_by_root() -> x509.Certificate:
    return make_cert(name(*NOTARY, ("CN", "leaf")), issuer=name(*NOTARY, ("CN", "Root")), signer_label="root")


@pytest.fixture
def store(tmp_path: Path) -> X509TrustStore:
    return X509TrustStore(tmp_path / "truststore")


def _write(store: X509TrustStore, kind: str, store_name: str, files: dict[str, bytes]) -> Path:
    directory = store.root / "x509" / kind / store_name
    directory.mkdir(parents=True, exist_ok=True)
    for file_name, data in files.items():
        (directory / file_name).write_bytes(data)
    return directory


def _error(store: X509TrustStore, kind: str, store_name: str) -> TrustStoreError:
    store.clear_cache()
    with pytest.raises(TrustStoreError) as info:
        store.certificates(kind, store_name)
    return info.value


def test_missing_store(store: X509TrustStore) -> None:
    assert _error(store, "ca", "invalid_store").message == 'the trust store "invalid_store" of type "ca" does not exist'
    assert (
        _error(store, "tsa", "does-not-exist").message
        == 'the trust store "does-not-exist" of type "tsa" does not exist'
    )


@pytest.mark.parametrize("bad_name", ["", "a/b", "..", ".", "with space", "ünï"])
def test_invalid_store_name(store: X509TrustStore, bad_name: str) -> None:
    assert not is_valid_store_name(bad_name)
    assert _error(store, "ca", bad_name).message == (
        f"trust store name needs to follow [a-zA-Z0-9_.-]+ format, {bad_name} is invalid"
    )


def test_invalid_store_type(store: X509TrustStore) -> None:
    assert _error(store, "root", "x").message == "unsupported trust store type: root"


def test_empty_store(store: X509TrustStore) -> None:
    _write(store, "ca", "empty", {})
    assert _error(store, "ca", "empty").message == 'no x509 certificates were found in trust store "empty" of type "ca"'


def test_symlinked_store_directory_is_rejected(store: X509TrustStore) -> None:
    real = _write(store, "ca", "real", {"root.pem": pem([_root_ca()])})
    link = real.parent / "linked"
    link.symlink_to(real, target_is_directory=True)
    assert store.certificates("ca", "real")
    assert _error(store, "ca", "linked").message == (
        f"the trust store linked of type ca with path {link} is not a regular directory (symlinks are not supported)"
    )


def test_store_path_that_is_a_file(store: X509TrustStore) -> None:
    (store.root / "x509" / "ca").mkdir(parents=True)
    (store.root / "x509" / "ca" / "file").write_bytes(b"")
    assert "is not a regular directory" in _error(store, "ca", "file").message


def test_symlinked_certificate_file_is_rejected(store: X509TrustStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside.pem"
    outside.write_bytes(pem([_root_ca()]))
    directory = _write(store, "ca", "links", {"a.pem": pem([_root_ca()])})
    (directory / "b_SYMLINK.pem").symlink_to(outside)
    assert _error(store, "ca", "links").message == (
        "trusted certificate b_SYMLINK.pem in trust store links of type ca is not a regular file "
        "(directories or symlinks are not supported)"
    )


def test_subdirectory_is_rejected(store: X509TrustStore) -> None:
    directory = _write(store, "signingAuthority", "dirs", {"a.pem": pem([_root_ca()])})
    (directory / "nested").mkdir()
    assert _error(store, "signingAuthority", "dirs").message == (
        "trusted certificate nested in trust store dirs of type signingAuthority is not a regular file "
        "(directories or symlinks are not supported)"
    )


def test_unparsable_file(store: X509TrustStore) -> None:
    _write(store, "ca", "bad", {"a.pem": pem([_root_ca()]), "z.crt": b"not a certificate"})
    error = _error(store, "ca", "bad")
    assert error.message == "failed to read the trusted certificate z.crt in trust store bad of type ca"
    assert error.__cause__ is not None


def test_leaf_issued_by_a_ca_is_rejected_in_ca_and_signing_authority_stores(store: X509TrustStore) -> None:
    for kind in ("ca", "signingAuthority"):
        _write(store, kind, "leafy", {"both.pem": pem([_root_ca(), _leaf_signed_by_root()])})
        error = _error(store, kind, "leafy")
        assert (
            error.message == f"failed to validate the trusted certificate both.pem in trust store leafy of type {kind}"
        )
        assert isinstance(error.__cause__, TrustStoreError)
        assert error.__cause__.message == (
            'certificate with subject "CN=leaf,O=Notary,L=Seattle,ST=WA,C=US" is not a CA certificate or '
            "self-signed signing certificate"
        )


def test_self_signed_leaf_and_der_accepted(store: X509TrustStore) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding

    leaf = make_cert(name(*NOTARY, ("CN", "self")), ca=None, label="self")
    root = _root_ca()
    _write(store, "ca", "mixed", {"a.crt": leaf.public_bytes(Encoding.DER) + root.public_bytes(Encoding.DER)})
    assert store.certificates("ca", "mixed") == [leaf, root]


def test_tsa_store_requires_self_issued_root(store: X509TrustStore) -> None:
    _write(store, "tsa", "ok", {"root.pem": pem([_root_ca()])})
    assert store.certificates("tsa", "ok")

    no_cert_sign = make_cert(name(*NOTARY, ("CN", "ku")), ca=True, key_usage_cert_sign=False, label="ku")
    _write(store, "tsa", "ku", {"ku.pem": pem([no_cert_sign])})
    assert _error(store, "tsa", "ku").message == (
        "trusted certificate ku.pem in trust store ku of type tsa is invalid: certificate with subject "
        '"CN=ku,O=Notary,L=Seattle,ST=WA,C=US" is not a root CA certificate: x509: invalid signature: parent '
        "certificate cannot sign this kind of certificate"
    )

    renamed = make_cert(name(*NOTARY, ("CN", "Sub")), issuer=name(*NOTARY, ("CN", "Other")), ca=True, label="sub")
    _write(store, "tsa", "renamed", {"r.pem": pem([renamed])})
    assert _error(store, "tsa", "renamed").message == (
        "trusted certificate r.pem in trust store renamed of type tsa is invalid: certificate with subject "
        '"CN=Sub,O=Notary,L=Seattle,ST=WA,C=US" is not a root CA certificate: issuer '
        "(CN=Other,O=Notary,L=Seattle,ST=WA,C=US) and subject (CN=Sub,O=Notary,L=Seattle,ST=WA,C=US) are not the same"
    )


def test_validate_trust_store_certificates_pure() -> None:
    validate_trust_store_certificates([_root_ca()], StoreType.TSA)
    with pytest.raises(TrustStoreError, match="input certs cannot be empty"):
        validate_trust_store_certificates([], StoreType.CA)


def test_store_root_missing_entirely(tmp_path: Path) -> None:
    store = X509TrustStore(tmp_path / "nope")
    assert store.list_stores() == []
    assert store.list_certificates() == []
    assert _error(store, "ca", "x").message == 'the trust store "x" of type "ca" does not exist'


# --- management --------------------------------------------------------------------------------------


def test_add_list_show_delete(store: X509TrustStore, tmp_path: Path) -> None:
    source = tmp_path / "root.crt"
    source.write_bytes(pem([_root_ca()]))
    added = store.add_certificates("ca", "acme", [source])
    target = store.root / "x509" / "ca" / "acme" / "root.crt"
    assert added == [target]
    assert target.read_bytes() == source.read_bytes()
    if os.name == "posix":
        assert target.stat().st_mode & 0o777 == 0o600
        assert target.parent.stat().st_mode & 0o777 == 0o700
    assert store.certificates("ca", "acme") == [_root_ca()]

    store.add_certificates("tsa", "stamps", [source])
    assert store.list_stores() == [(StoreType.CA, "acme"), (StoreType.TSA, "stamps")]
    assert store.list_stores("tsa") == [(StoreType.TSA, "stamps")]
    assert store.list_certificates() == [
        CertificateFile(StoreType.CA, "acme", target),
        CertificateFile(StoreType.TSA, "stamps", store.root / "x509" / "tsa" / "stamps" / "root.crt"),
    ]
    assert store.list_certificates(name="stamps")[0].store_type is StoreType.TSA
    assert store.read_certificate_file("ca", "acme", "root.crt") == [_root_ca()]

    with pytest.raises(TrustStoreError, match=re.escape('certificate "root.crt" already exists in trust store "acme"')):
        store.add_certificates("ca", "acme", [source])

    assert store.delete_certificate("ca", "acme", "root.crt") == target
    assert not target.exists()
    # The cache was invalidated: the now-empty store is an error again.
    assert _error(store, "ca", "acme").message == 'no x509 certificates were found in trust store "acme" of type "ca"'

    removed = store.delete_store("tsa", "stamps")
    assert [p.name for p in removed] == ["root.crt"]
    assert not (store.root / "x509" / "tsa" / "stamps").exists()


def test_add_validates_everything_before_writing(store: X509TrustStore, tmp_path: Path) -> None:
    good = tmp_path / "good.pem"
    good.write_bytes(pem([_root_ca()]))
    leaf = tmp_path / "leaf.pem"
    leaf.write_bytes(pem([_leaf_signed_by_root()]))
    garbage = tmp_path / "garbage.pem"
    garbage.write_bytes(b"garbage")
    with pytest.raises(TrustStoreError, match="is not a CA certificate or self-signed signing certificate"):
        store.add_certificates("ca", "s", [good, leaf])
    with pytest.raises(TrustStoreError, match=r'failed to read certificate file ".*garbage\.pem"'):
        store.add_certificates("ca", "s", [good, garbage])
    with pytest.raises(TrustStoreError, match="failed to read certificate file"):
        store.add_certificates("ca", "s", [tmp_path / "missing.pem"])
    assert not (store.root / "x509" / "ca" / "s").exists()

    self_signed_leaf = tmp_path / "self.pem"
    self_signed_leaf.write_bytes(pem([make_cert(name(*NOTARY, ("CN", "self")), label="self")]))
    with pytest.raises(TrustStoreError, match="is not a root CA certificate"):
        store.add_certificates("tsa", "t", [self_signed_leaf])
    store.add_certificates("ca", "s", [self_signed_leaf])


def test_add_rejects_duplicate_names_and_bad_targets(store: X509TrustStore, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for d in ("a", "b"):
        (tmp_path / d / "root.pem").write_bytes(pem([_root_ca()]))
    with pytest.raises(TrustStoreError, match="given more than once"):
        store.add_certificates("ca", "s", [tmp_path / "a" / "root.pem", tmp_path / "b" / "root.pem"])
    with pytest.raises(TrustStoreError, match="no certificate file to add"):
        store.add_certificates("ca", "s", [])
    with pytest.raises(TrustStoreError, match=re.escape("format, .. is invalid")):
        store.add_certificates("ca", "..", [tmp_path / "a" / "root.pem"])

    real = _write(store, "ca", "real", {})
    (real.parent / "alias").symlink_to(real, target_is_directory=True)
    with pytest.raises(TrustStoreError, match="is not a regular directory"):
        store.add_certificates("ca", "alias", [tmp_path / "a" / "root.pem"])


@pytest.mark.parametrize("file_name", ["", ".", "..", "../x", "a/b"])
def test_delete_rejects_path_like_names(store: X509TrustStore, file_name: str) -> None:
    _write(store, "ca", "s", {"root.pem": pem([_root_ca()])})
    with pytest.raises(TrustStoreError, match="invalid certificate file name"):
        store.delete_certificate("ca", "s", file_name)


def test_symlinks_can_be_deleted_but_not_read(store: X509TrustStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside.pem"
    outside.write_bytes(pem([_root_ca()]))
    directory = _write(store, "ca", "s", {})
    (directory / "link.pem").symlink_to(outside)
    with pytest.raises(TrustStoreError, match="does not exist in trust store"):
        store.read_certificate_file("ca", "s", "link.pem")
    assert store.delete_certificate("ca", "s", "link.pem") == directory / "link.pem"
    assert outside.exists()
    assert not os.path.lexists(directory / "link.pem")


def test_delete_missing(store: X509TrustStore) -> None:
    _write(store, "ca", "s", {"root.pem": pem([_root_ca()])})
    with pytest.raises(
        TrustStoreError, match=re.escape('certificate "nope.pem" does not exist in trust store "s" of type "ca"')
    ):
        store.delete_certificate("ca", "s", "nope.pem")
    with pytest.raises(TrustStoreError, match='the trust store "gone" of type "ca" does not exist'):
        store.delete_store("ca", "gone")


# --- policy-facing helpers ------------------------------------------------------------------------------


class _RecordingStore:
    def __init__(self, inner: X509TrustStore) -> None:
        self.inner = inner
        self.calls: list[tuple[StoreType, str]] = []

    def certificates(self, store_type: StoreType, name: str) -> list[x509.Certificate]:
        self.calls.append((store_type, name))
        return self.inner.certificates(store_type, name)


def test_load_policy_certificates_filters_by_type_and_deduplicates(conformance_store: X509TrustStore) -> None:
    recording = _RecordingStore(conformance_store)
    stores = [
        "ca:valid-trust-store",
        "signingAuthority:valid-trust-store-2",
        "ca:valid-trust-store",
        "tsa:test-timestamp",
    ]
    certs = load_policy_certificates(recording, StoreType.CA, "p", stores)
    assert recording.calls == [(StoreType.CA, "valid-trust-store")]
    assert len(certs) == 6
    assert len(load_policy_certificates(recording, StoreType.TSA, "p", stores)) == 1


def test_load_policy_certificates_missing_separator(conformance_store: X509TrustStore) -> None:
    with pytest.raises(TrustStoreError) as info:
        load_policy_certificates(
            conformance_store, StoreType.CA, "test-statement-name", ["ca:valid-trust-store-2", "signingAuthority"]
        )
    assert info.value.message == (
        'error while loading the trust store, trust policy statement "test-statement-name" is missing separator in '
        'trust store value "signingAuthority". The required format is <TrustStoreType>:<TrustStoreName>'
    )


def test_load_policy_certificates_bad_name_reaches_the_store(conformance_store: X509TrustStore) -> None:
    with pytest.raises(
        TrustStoreError, match=r"trust store name needs to follow \[a-zA-Z0-9_.-\]\+ format, #@\$ is invalid"
    ):
        load_policy_certificates(conformance_store, StoreType.CA, "p", ["ca:#@$"])


def test_policy_uses_tsa() -> None:
    assert policy_uses_tsa("p", ["ca:x", "tsa:y"])
    assert not policy_uses_tsa("p", ["ca:x", "signingAuthority:y"])
    assert policy_uses_tsa("p", ["tsa:y", "broken"])  # Go stops at the first tsa value
    with pytest.raises(TrustStoreError) as info:
        policy_uses_tsa("test-timestamp", ["ca:valid-trust-store", "tsa"])
    assert info.value.message == (
        'invalid trust policy statement: "test-timestamp" is missing separator in trust store value "tsa". '
        "The required format is <TrustStoreType>:<TrustStoreName>"
    )


def test_conformance_tsa_separator_case_message() -> None:
    case = next(
        c
        for c in cases_of_kind("authentic-timestamp-step")
        if "missing separator" in (c["expectedAuthenticTimestamp"].get("error") or "")
    )
    statement = case["trustPolicyOCI"]["trustPolicies"][0]
    with pytest.raises(TrustStoreError) as info:
        policy_uses_tsa(statement["name"], statement["trustStores"])
    wrapped = f"failed to check tsa trust store configuration in turst policy with error: {info.value.message}"
    assert wrapped == case["expectedAuthenticTimestamp"]["error"]


def test_conformance_tsa_store_missing_message(conformance_store: X509TrustStore) -> None:
    case = next(c for c in cases_of_kind("authentic-timestamp-step") if c["id"] == "ng-ts-tsa-store-does-not-exist")
    statement = case["trustPolicyOCI"]["trustPolicies"][0]
    with pytest.raises(TrustStoreError) as info:
        load_policy_certificates(conformance_store, StoreType.TSA, statement["name"], statement["trustStores"])
    assert (
        f"failed to load tsa trust store with error: {info.value.message}"
        == case["expectedAuthenticTimestamp"]["error"]
    )


def test_copy_of_conformance_store_is_independent(tmp_path: Path) -> None:
    shutil.copytree(vector("notation-go/truststore"), tmp_path / "truststore", symlinks=True)
    store = X509TrustStore(tmp_path / "truststore")
    assert len(store.certificates("signingAuthority", "valid-trust-store")) == 3
