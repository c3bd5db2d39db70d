"""The X.509 trust store: named collections of trusted certificates on disk.

Layout (trust-store-trust-policy.md; notation-go ``verifier/truststore``)::

    {NOTATION_CONFIG}/truststore/x509/{ca|signingAuthority|tsa}/<store name>/<certificate files>

A named store is only trusted when a trust policy statement references it as ``<type>:<name>``.
Loading follows notation-go, with its error messages:

* the type must be ``ca``, ``signingAuthority`` or ``tsa``; the name must match ``[a-zA-Z0-9_.-]+``
  (``.`` and ``..`` are refused too: they would name a directory outside the store);
* the store directory must exist and be a real directory, not a symlink;
* every entry must be a regular file (sub-directories and symlinks are errors; the specification
  says to ignore sub-directories, notation-go refuses them and so does this module);
* every file holds one or more PEM or DER certificates; in ``ca`` and ``signingAuthority`` stores
  each must be a CA certificate or a self-signed (non-CA) signing certificate, in ``tsa`` stores a
  self-issued, self-signed root CA;
* a store without certificates is an error.

The policy-facing helpers :func:`load_policy_certificates` and :func:`policy_uses_tsa` take a
statement's ``trustStores`` strings *as written* and reproduce the messages notation-go's verifier
produces while loading them (e.g. ``error while loading the trust store, trust policy statement
"..." is missing separator in trust store value "..."``).
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
from collections.abc import Iterable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import NamedTuple, Protocol

from cryptography import x509

from notation_py.errors import CertificateError, TrustStoreError
from notation_py.x509.certs import certificate_fields, parse_certificates
from notation_py.x509.chain import check_signature_from, has_valid_self_signature, is_ca
from notation_py.x509.names import format_name, go_quote

__all__ = [
    "CertificateFile",
    "StoreType",
    "TrustStore",
    "X509TrustStore",
    "is_valid_store_name",
    "load_policy_certificates",
    "policy_uses_tsa",
    "validate_trust_store_certificates",
]

_STORE_NAME = re.compile(r"[a-zA-Z0-9_.-]+")


class StoreType(StrEnum):
    """Trust store types, named as in trust policies and on disk."""

    CA = "ca"
    SIGNING_AUTHORITY = "signingAuthority"
    TSA = "tsa"


def is_valid_store_name(name: str) -> bool:
    """True if ``name`` can name a trust store: ``[a-zA-Z0-9_.-]+``, but not ``.`` or ``..``."""
    return bool(_STORE_NAME.fullmatch(name)) and name not in (".", "..")


class TrustStore(Protocol):
    """Where a verifier gets trusted certificates from."""

    def certificates(self, store_type: StoreType, name: str) -> list[x509.Certificate]:
        """The certificates of the named store ``store_type:name``.

        Raises:
            TrustStoreError: The store is missing, empty, or holds an unacceptable file.
        """
        ...


class CertificateFile(NamedTuple):
    """One certificate file of a named store (for ``cert list``)."""

    store_type: StoreType
    store_name: str
    path: Path


# ------------------------------------------------------------------------------------------------
# Certificate rules (pure)
# ------------------------------------------------------------------------------------------------


def _subject(cert: x509.Certificate) -> str:
    return go_quote(format_name(cert.subject))


def _ca_store_problem(certs: Sequence[x509.Certificate]) -> str | None:
    """notation-go ``ValidateCertificates``: CA certificates, or non-CA certificates signed by themselves."""
    if not certs:
        return "input certs cannot be empty"
    for cert in certs:
        if not is_ca(cert) and not has_valid_self_signature(cert):
            return (
                f"certificate with subject {_subject(cert)} is not a CA certificate or self-signed signing certificate"
            )
    return None


def _tsa_root_problem(cert: x509.Certificate) -> str | None:
    """notation-go ``isRootCACertificate``: may sign certificates, signed by itself, self-issued."""
    error = check_signature_from(cert, cert)
    if error is not None:
        return f"certificate with subject {_subject(cert)} is not a root CA certificate: {error}"
    fields = certificate_fields(cert)
    if fields.raw_subject != fields.raw_issuer:
        return (
            f"certificate with subject {_subject(cert)} is not a root CA certificate: issuer "
            f"({format_name(cert.issuer)}) and subject ({format_name(cert.subject)}) are not the same"
        )
    return None


def validate_trust_store_certificates(certs: Sequence[x509.Certificate], store_type: StoreType) -> None:
    """Check that ``certs`` (the content of one file) may live in a store of ``store_type``.

    Raises:
        TrustStoreError: With notation-go's message: ``certificate with subject "..." is not a CA
            certificate or self-signed signing certificate``, or for ``tsa`` stores ``... is not a
            root CA certificate: <reason>``.
    """
    try:
        problem = _ca_store_problem(certs)
        if problem is None and store_type is StoreType.TSA:
            problem = next(filter(None, map(_tsa_root_problem, certs)), None)
    except CertificateError as exc:
        problem = exc.message
    if problem is not None:
        raise TrustStoreError(problem)


# ------------------------------------------------------------------------------------------------
# The directory-backed store
# ------------------------------------------------------------------------------------------------


def _store_type(value: StoreType | str) -> StoreType:
    try:
        return StoreType(value)
    except ValueError:
        raise TrustStoreError(f"unsupported trust store type: {value}") from None


def _read_regular_file(path: Path) -> bytes:
    """Read ``path`` without following a symlink at its last component (closes a swap race)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        return handle.read()


class X509TrustStore:
    """The trust store under ``root`` (normally ``{NOTATION_CONFIG}/truststore``).

    Loaded stores are cached per instance; :meth:`add_certificates` and the delete methods keep
    the cache consistent, :meth:`clear_cache` drops it (for changes made by others).
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        """Use the trust store directory ``root`` (the directory that holds ``x509/``)."""
        self._root = Path(root)
        self._cache: dict[tuple[StoreType, str], tuple[x509.Certificate, ...]] = {}

    @classmethod
    def from_config_dir(cls, config_dir: str | os.PathLike[str]) -> X509TrustStore:
        """The trust store of a notation configuration directory (``<config_dir>/truststore``)."""
        return cls(Path(config_dir) / "truststore")

    @property
    def root(self) -> Path:
        """The trust store directory (the one that holds ``x509/``)."""
        return self._root

    def store_path(self, store_type: StoreType | str, name: str) -> Path:
        """Directory of the named store ``store_type:name`` (which need not exist).

        Raises:
            TrustStoreError: Unknown type or invalid name (notation-go's messages).
        """
        kind = _store_type(store_type)
        if not is_valid_store_name(name):
            raise TrustStoreError(f"trust store name needs to follow [a-zA-Z0-9_.-]+ format, {name} is invalid")
        return self._root / "x509" / kind.value / name

    def clear_cache(self) -> None:
        """Forget loaded stores, so the next :meth:`certificates` call reads the disk again."""
        self._cache.clear()

    def certificates(self, store_type: StoreType | str, name: str) -> list[x509.Certificate]:
        """The certificates of the named store ``store_type:name``, in file-name then file order.

        Raises:
            TrustStoreError: The store does not exist, is a symlink or not a directory, holds a
                directory, symlink or unreadable/invalid certificate file, or holds no certificate.
                Messages are notation-go's; for a file problem the underlying reason is chained
                as ``__cause__``.
        """
        kind = _store_type(store_type)
        key = (kind, name)
        if key not in self._cache:
            self._cache[key] = tuple(self._load(kind, name))
        return list(self._cache[key])

    def _store_dir(self, kind: StoreType, name: str) -> Path:
        """The store directory, checked to exist and be a real directory."""
        path = self.store_path(kind, name)
        try:
            info = path.lstat()
        except FileNotFoundError:
            raise TrustStoreError(
                f"the trust store {go_quote(name)} of type {go_quote(kind.value)} does not exist"
            ) from None
        except OSError as exc:
            raise TrustStoreError(
                f"failed to access the trust store {go_quote(name)} of type {go_quote(kind.value)}"
            ) from exc
        if not stat.S_ISDIR(info.st_mode):  # lstat: a symlink is never S_ISDIR
            raise TrustStoreError(
                f"the trust store {name} of type {kind.value} with path {path} is not a regular directory "
                "(symlinks are not supported)"
            )
        return path

    def _load(self, kind: StoreType, name: str) -> list[x509.Certificate]:
        path = self._store_dir(kind, name)
        try:
            entries = sorted(os.scandir(path), key=lambda e: e.name)  # Go's os.ReadDir order
        except OSError as exc:
            raise TrustStoreError(
                f"failed to access the trust store {go_quote(name)} of type {go_quote(kind.value)}"
            ) from exc
        where = f"in trust store {name} of type {kind.value}"
        certificates: list[x509.Certificate] = []
        for entry in entries:
            if not entry.is_file(follow_symlinks=False):
                raise TrustStoreError(
                    f"trusted certificate {entry.name} {where} is not a regular file "
                    "(directories or symlinks are not supported)"
                )
            try:
                certs = parse_certificates(_read_regular_file(Path(entry.path)))
            except (OSError, CertificateError) as exc:
                raise TrustStoreError(f"failed to read the trusted certificate {entry.name} {where}") from exc
            try:
                validate_trust_store_certificates(certs, StoreType.CA)
            except TrustStoreError as exc:
                raise TrustStoreError(f"failed to validate the trusted certificate {entry.name} {where}") from exc
            if kind is StoreType.TSA:
                try:
                    validate_trust_store_certificates(certs, StoreType.TSA)
                except TrustStoreError as exc:
                    raise TrustStoreError(
                        f"trusted certificate {entry.name} {where} is invalid: {exc.message}"
                    ) from exc
            certificates.extend(certs)
        if not certificates:
            raise TrustStoreError(
                f"no x509 certificates were found in trust store {go_quote(name)} of type {go_quote(kind.value)}"
            )
        return certificates

    # --- management (notation cert add / list / show / delete) ----------------------------------

    def list_stores(self, store_type: StoreType | str | None = None) -> list[tuple[StoreType, str]]:
        """Existing named stores (real directories with a valid name), by type then name."""
        kinds = list(StoreType) if store_type is None else [_store_type(store_type)]
        stores: list[tuple[StoreType, str]] = []
        for kind in kinds:
            type_dir = self._root / "x509" / kind.value
            try:
                names = sorted(e.name for e in os.scandir(type_dir) if e.is_dir(follow_symlinks=False))
            except (FileNotFoundError, NotADirectoryError):
                continue
            except OSError as exc:
                raise TrustStoreError(f"failed to list trust stores of type {go_quote(kind.value)}") from exc
            stores.extend((kind, n) for n in names if is_valid_store_name(n))
        return stores

    def list_certificates(
        self, store_type: StoreType | str | None = None, name: str | None = None
    ) -> list[CertificateFile]:
        """Certificate files of every store, or of one type and/or one store name (``cert list``).

        Only regular files are listed; a named store that does not exist yields nothing.
        """
        files: list[CertificateFile] = []
        for kind, store in self.list_stores(store_type):
            if name is not None and store != name:
                continue
            path = self._root / "x509" / kind.value / store
            try:
                entries = sorted(os.scandir(path), key=lambda e: e.name)
            except OSError as exc:
                raise TrustStoreError(
                    f"failed to access the trust store {go_quote(store)} of type {go_quote(kind.value)}"
                ) from exc
            files.extend(
                CertificateFile(kind, store, Path(e.path)) for e in entries if e.is_file(follow_symlinks=False)
            )
        return files

    def _file_in_store(self, kind: StoreType, name: str, file_name: str, *, allow_symlink: bool = False) -> Path:
        """A file of a named store; a symlink only with ``allow_symlink`` (deleting one is fine)."""
        if (
            file_name in ("", ".", "..")
            or "/" in file_name
            or (os.altsep and os.altsep in file_name)
            or os.sep in file_name
        ):
            raise TrustStoreError(f"invalid certificate file name {go_quote(file_name)}")
        path = self._store_dir(kind, name) / file_name
        try:
            mode = path.lstat().st_mode
        except OSError:
            mode = 0
        if not (stat.S_ISREG(mode) or (allow_symlink and stat.S_ISLNK(mode))):
            raise TrustStoreError(
                f"certificate {go_quote(file_name)} does not exist in trust store {go_quote(name)} "
                f"of type {go_quote(kind.value)}"
            )
        return path

    def read_certificate_file(self, store_type: StoreType | str, name: str, file_name: str) -> list[x509.Certificate]:
        """The certificates of one file of a named store (``cert show``).

        Raises:
            TrustStoreError: The store or file does not exist, or the file holds no valid certificate.
        """
        kind = _store_type(store_type)
        path = self._file_in_store(kind, name, file_name)
        try:
            return parse_certificates(_read_regular_file(path))
        except (OSError, CertificateError) as exc:
            reason = exc.message if isinstance(exc, CertificateError) else (exc.strerror or str(exc))
            raise TrustStoreError(
                f"failed to read the trusted certificate {file_name} in trust store {name} of type {kind.value}: {reason}"
            ) from exc

    def add_certificates(
        self, store_type: StoreType | str, name: str, paths: Iterable[str | os.PathLike[str]]
    ) -> list[Path]:
        """Copy certificate files into the named store, creating it if needed (``cert add``).

        Every file is read and checked against the store type's rules (the rules loading applies)
        before anything is written, so a bad file adds nothing. Files keep their base name; an
        existing file of the same name is an error. New directories are private (0700), files 0600.

        Returns:
            The paths of the added files.

        Raises:
            TrustStoreError: Invalid type or name, unreadable or invalid certificate file, duplicate
                file name, or the store path exists but is not a real directory.
        """
        kind = _store_type(store_type)
        store_dir = self.store_path(kind, name)
        sources = [Path(p) for p in paths]
        if not sources:
            raise TrustStoreError("no certificate file to add")
        contents: list[tuple[str, bytes]] = []
        for source in sources:
            try:
                data = source.read_bytes()
                certs = parse_certificates(data)
            except (OSError, CertificateError) as exc:
                reason = exc.message if isinstance(exc, CertificateError) else (exc.strerror or str(exc))
                raise TrustStoreError(f"failed to read certificate file {go_quote(str(source))}: {reason}") from exc
            try:
                validate_trust_store_certificates(certs, kind)
            except TrustStoreError as exc:
                raise TrustStoreError(
                    f"certificate file {go_quote(str(source))} cannot be added to trust store {name} of type "
                    f"{kind.value}: {exc.message}"
                ) from None
            if any(source.name == existing for existing, _ in contents):
                raise TrustStoreError(f"certificate file name {go_quote(source.name)} is given more than once")
            contents.append((source.name, data))

        if os.path.lexists(store_dir):
            self._store_dir(kind, name)  # refuse a symlinked or non-directory store path
        for file_name, _ in contents:
            if os.path.lexists(store_dir / file_name):
                raise TrustStoreError(
                    f"certificate {go_quote(file_name)} already exists in trust store {go_quote(name)} "
                    f"of type {go_quote(kind.value)}"
                )
        try:
            store_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            added: list[Path] = []
            for file_name, data in contents:
                target = store_dir / file_name
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
                with os.fdopen(os.open(target, flags, 0o600), "wb") as handle:
                    handle.write(data)
                added.append(target)
        except OSError as exc:
            raise TrustStoreError(
                f"failed to add certificates to trust store {go_quote(name)} of type {go_quote(kind.value)}: "
                f"{exc.strerror or exc}"
            ) from exc
        finally:
            self._cache.pop((kind, name), None)
        return added

    def delete_certificate(self, store_type: StoreType | str, name: str, file_name: str) -> Path:
        """Delete one certificate file from a named store (``cert delete <file>``).

        Returns:
            The deleted path.

        Raises:
            TrustStoreError: The store or file does not exist, or the name is not a plain file name.
        """
        kind = _store_type(store_type)
        path = self._file_in_store(kind, name, file_name, allow_symlink=True)
        try:
            path.unlink()
        except OSError as exc:
            raise TrustStoreError(f"failed to delete certificate {go_quote(file_name)}: {exc.strerror or exc}") from exc
        finally:
            self._cache.pop((kind, name), None)
        return path

    def delete_store(self, store_type: StoreType | str, name: str) -> list[Path]:
        """Delete a named store with all its files (``cert delete --all``).

        Returns:
            The certificate files that were in the store.

        Raises:
            TrustStoreError: The store does not exist or is not a real directory.
        """
        kind = _store_type(store_type)
        path = self._store_dir(kind, name)
        removed = sorted(Path(e.path) for e in os.scandir(path))
        try:
            shutil.rmtree(path)
        except OSError as exc:
            raise TrustStoreError(
                f"failed to delete trust store {go_quote(name)} of type {go_quote(kind.value)}: {exc.strerror or exc}"
            ) from exc
        finally:
            self._cache.pop((kind, name), None)
        return removed


# ------------------------------------------------------------------------------------------------
# Loading the stores a policy statement references
# ------------------------------------------------------------------------------------------------


def load_policy_certificates(
    store: TrustStore, store_type: StoreType, statement_name: str, trust_stores: Sequence[str]
) -> list[x509.Certificate]:
    """Certificates of the statement's stores of ``store_type`` (notation-go ``loadX509TrustStores``).

    ``trust_stores`` are the statement's values as written. Each distinct value is parsed at the
    first ``:``; values of other types are skipped; a value without ``:`` is an error even if it
    would not have been loaded.

    Args:
        store: Where certificates come from.
        store_type: ``ca`` for ``notary.x509`` signatures, ``signingAuthority`` for
            ``notary.x509.signingAuthority``, ``tsa`` for timestamp verification.
        statement_name: The statement's name (for messages).
        trust_stores: The statement's ``trustStores`` values.

    Raises:
        TrustStoreError: ``error while loading the trust store, trust policy statement "<name>" is
            missing separator in trust store value "<value>". The required format is
            <TrustStoreType>:<TrustStoreName>``, or the store's own loading error. notation-go's
            verifier reports the first as is; the ``tsa`` load error it wraps as ``failed to load
            tsa trust store with error: <message>``.
    """
    seen: set[str] = set()
    certificates: list[x509.Certificate] = []
    for value in trust_stores:
        if value in seen:
            continue
        kind, sep, name = value.partition(":")
        if not sep:
            raise TrustStoreError(
                f"error while loading the trust store, trust policy statement {go_quote(statement_name)} is "
                f"missing separator in trust store value {go_quote(value)}. The required format is "
                "<TrustStoreType>:<TrustStoreName>"
            )
        if kind != store_type.value:
            continue
        certificates.extend(store.certificates(store_type, name))
        seen.add(value)
    return certificates


def policy_uses_tsa(statement_name: str, trust_stores: Sequence[str]) -> bool:
    """True if the statement references a ``tsa`` store (notation-go ``isTSATrustStoreInPolicy``).

    Values are checked in order up to the first ``tsa:`` one.

    Raises:
        TrustStoreError: ``invalid trust policy statement: "<name>" is missing separator in trust
            store value "<value>". The required format is <TrustStoreType>:<TrustStoreName>``;
            notation-go's verifier wraps it as ``failed to check tsa trust store configuration in
            turst policy with error: <message>`` (sic).
    """
    for value in trust_stores:
        kind, sep, _ = value.partition(":")
        if not sep:
            raise TrustStoreError(
                f"invalid trust policy statement: {go_quote(statement_name)} is missing separator in trust "
                f"store value {go_quote(value)}. The required format is <TrustStoreType>:<TrustStoreName>"
            )
        if kind == StoreType.TSA.value:
            return True
    return False
