"""``certificate`` (alias ``cert``): trust store management and test certificates."""

from __future__ import annotations

import contextlib
import os
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives import serialization

from notation_py.cli.app import cert_app
from notation_py.cli.context import config_dir, out, parse_duration, trust_store, warn
from notation_py.cli.render import render_table
from notation_py.config.files import KeySuite, SigningKeys
from notation_py.envelope.encoding import format_rfc3339
from notation_py.errors import UsageError
from notation_py.fsutil import atomic_write
from notation_py.keys.generate import KEY_TYPES, issue_signing_certificate, notary_test_subject
from notation_py.policy.truststore import StoreType, is_valid_store_name
from notation_py.x509.certs import thumbprint_sha256
from notation_py.x509.names import format_name

StoreTypeOpt = Annotated[str, typer.Option("--type", "-t", help="ca, signingAuthority or tsa.")]
StoreOpt = Annotated[str, typer.Option("--store", "-s", help="Named store.")]


def _store_type(value: str) -> StoreType:
    try:
        return StoreType(value)
    except ValueError:
        raise UsageError(f'unsupported trust store type "{value}": use ca, signingAuthority or tsa') from None


@cert_app.command("add")
def cert_add(
    paths: Annotated[list[Path], typer.Argument(help="Certificate files (PEM or DER).")],
    store_type: StoreTypeOpt,
    store: StoreOpt,
) -> None:
    """Add certificates to a named trust store (validated first; nothing is added on error)."""
    added = trust_store().add_certificates(_store_type(store_type), store, paths)
    for path in added:
        out(f"Successfully added {path.name} to named store {store} of type {store_type}")


@cert_app.command("list")
def cert_list(
    store_type: Annotated[str | None, typer.Option("--type", "-t", help="Filter by store type.")] = None,
    store: Annotated[str | None, typer.Option("--store", "-s", help="Filter by store name.")] = None,
) -> None:
    """List certificate files in the trust store."""
    kind = _store_type(store_type) if store_type else None
    if store is not None and not is_valid_store_name(store):
        raise UsageError(f"named store name needs to follow [a-zA-Z0-9_.-]+ format, {store} is invalid")
    files = trust_store().list_certificates(kind, store)
    if not files:
        out("No certificates found")
        return
    rows = [[f.store_type.value, f.store_name, f.path.name] for f in files]
    out(render_table(["STORE TYPE", "STORE NAME", "CERTIFICATE"], rows))


cert_app.command("ls", hidden=True)(cert_list)


@cert_app.command("show")
def cert_show(
    file_name: Annotated[str, typer.Argument(help="File name in the store.")], store_type: StoreTypeOpt, store: StoreOpt
) -> None:
    """Show the certificates of one trust store file."""
    certs = trust_store().read_certificate_file(_store_type(store_type), store, file_name)
    for cert in certs:
        out(f"Issuer: {format_name(cert.issuer)}")
        out(f"Subject: {format_name(cert.subject)}")
        out(f"Valid from: {format_rfc3339(cert.not_valid_before_utc)}")
        out(f"Valid to: {format_rfc3339(cert.not_valid_after_utc)}")
        out(f"SHA256 fingerprint: {thumbprint_sha256(cert)}")
        out("")


@cert_app.command("delete")
def cert_delete(
    store_type: StoreTypeOpt,
    store: StoreOpt,
    file_name: Annotated[str | None, typer.Argument(help="File to delete.")] = None,
    all_: Annotated[bool, typer.Option("--all", "-a", help="Delete the whole store.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a certificate file, or a whole named store with --all."""
    kind = _store_type(store_type)
    if all_ == (file_name is not None):
        raise UsageError("give either a certificate file name or --all")
    what = f"all certificates in store {store} of type {store_type}" if all_ else f"{file_name} in store {store}"
    if not yes and not typer.confirm(f"Are you sure you want to delete {what}?", default=False):
        out("Deletion cancelled")
        return
    ts = trust_store()
    if all_:
        ts.delete_store(kind, store)
        out(f"Successfully deleted {what}")
    else:
        assert file_name is not None
        ts.delete_certificate(kind, store, file_name)
        out(f"Successfully deleted {file_name} from trust store {store} of type {store_type}")


@cert_app.command("generate-test")
def cert_generate_test(
    name: Annotated[str, typer.Argument(help="Common name; also the key name and the ca store name.")],
    bits: Annotated[int | None, typer.Option("--bits", "-b", help="RSA key size (notation compatible).")] = None,
    key_type: Annotated[str | None, typer.Option("--key-type", help=f"One of {', '.join(KEY_TYPES)}.")] = None,
    validity: Annotated[str, typer.Option("--validity", help='Validity, e.g. "24h", "720h", "90d".')] = "24h",
    default: Annotated[bool, typer.Option("--default", help="Make it the default signing key.")] = False,
) -> None:
    """Create a self-signed code-signing key and certificate for testing, and trust it."""
    if not is_valid_store_name(name):
        raise UsageError(f'"{name}" is not a valid name: use letters, digits, "_", "." and "-"')
    if bits is not None and key_type is not None:
        raise UsageError("--bits and --key-type are mutually exclusive")
    kt = key_type or f"rsa-{bits or 2048}"
    lifetime = parse_duration(validity, "--validity")
    if lifetime < timedelta(minutes=1):
        raise UsageError("--validity must be at least 1 minute")
    cfg = config_dir()
    keys = SigningKeys.load(cfg.signing_keys)
    if any(k.name == name for k in keys.keys):
        raise UsageError(f'signing key "{name}" already exists')
    key_path = cfg.local_keys / f"{name}.key"
    cert_path = cfg.local_keys / f"{name}.crt"
    if key_path.exists() or cert_path.exists():
        raise UsageError(f"{key_path} or {cert_path} already exists")
    if os.path.lexists(trust_store().store_path(StoreType.CA, name) / f"{name}.crt"):
        raise UsageError(f'certificate "{name}.crt" already exists in trust store "{name}" of type "ca"')
    issued = issue_signing_certificate(None, notary_test_subject(name), key_type=kt, validity=lifetime)
    out(f"generating {kt.upper()} key with {name}")
    key_pem = issued.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    cert_pem = issued.certificate.public_bytes(serialization.Encoding.PEM)
    cfg.local_keys.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic_write(key_path, key_pem, mode=0o600)
    atomic_write(cert_path, cert_pem, mode=0o644)
    out(f"generated certificate expiring on {format_rfc3339(issued.certificate.not_valid_after_utc)}")
    trust_store().add_certificates(StoreType.CA, name, [cert_path])
    out(f"added certificate to trust store ca:{name}")
    # Absolute paths: a relative NOTATION_CONFIG must not make the key list depend on the working directory.
    suite = KeySuite(name=name, key_path=str(key_path.resolve()), cert_path=str(cert_path.resolve()))
    keys = keys.add(suite, make_default=default)
    keys.save(cfg.signing_keys)
    out(f"{name}: added to the key list" + (" and marked as default" if default else ""))
    if os.name != "nt" and key_path.stat().st_mode & 0o077:
        warn(f"{key_path} is readable by others")


@cert_app.command("cleanup-test")
def cert_cleanup_test(
    name: Annotated[str, typer.Argument(help="Name given to generate-test.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Remove a test key made by generate-test: key files, trust store entry, key list entry."""
    if not is_valid_store_name(name):  # the name becomes file names under localkeys/
        raise UsageError(f'"{name}" is not a valid name: use letters, digits, "_", "." and "-"')
    if not yes and not typer.confirm(f"Are you sure you want to clean up test key {name}?", default=False):
        out("Cleanup cancelled")
        return
    cfg = config_dir()
    keys = SigningKeys.load(cfg.signing_keys)
    if any(k.name == name for k in keys.keys):
        keys.remove(name).save(cfg.signing_keys)
        out(f"Successfully removed {name} from the key list")
    ts = trust_store()
    # Like notation, only the test certificate goes: other certificates of the store stay.
    if any(f.path.name == f"{name}.crt" for f in ts.list_certificates(StoreType.CA, name)):
        ts.delete_certificate(StoreType.CA, name, f"{name}.crt")
        out(f"Successfully deleted {name}.crt from trust store ca:{name}")
        with contextlib.suppress(OSError):
            ts.store_path(StoreType.CA, name).rmdir()  # only if now empty
    for suffix in (".key", ".crt"):
        path = cfg.local_keys / f"{name}{suffix}"
        if path.exists():
            path.unlink()
            out(f"Successfully deleted {path}")
