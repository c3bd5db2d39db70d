"""``certificate`` (alias ``cert``): trust store management and test certificates."""

# No ``from __future__ import annotations`` in the command modules: typer evaluates every command's
# annotations each time the CLI starts, and from strings (eval and compile of each) that took three times
# as long. Modules a command needs are imported inside it (docs/performance.md, "CLI start-up").

import os
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from notation_py.cli.app import cert_app
from notation_py.cli.context import config_dir, out, parse_duration, trust_store, warn
from notation_py.errors import UsageError
from notation_py.keys.key_types import KEY_TYPES

# cryptography and the key, certificate and trust store modules are imported inside the commands that
# use them: typer only needs the signatures below to build the CLI.
if TYPE_CHECKING:
    from cryptography import x509

    from notation_py.policy.truststore import StoreType

StoreTypeOpt = Annotated[str, typer.Option("--type", "-t", help="ca, signingAuthority or tsa.")]
PassphraseFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--passphrase-file",
        help="File holding the passphrase of the new key (else NOTATION_KEY_PASSPHRASE, else a prompt); "
        "never give a passphrase on the command line.",
    ),
]
StoreOpt = Annotated[str, typer.Option("--store", "-s", help="Named store.")]


def _store_type(value: str) -> "StoreType":
    from notation_py.policy.truststore import StoreType

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
    from notation_py.cli.render import render_table
    from notation_py.policy.truststore import is_valid_store_name

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
    from notation_py.envelope.encoding import format_rfc3339
    from notation_py.x509.certs import thumbprint_sha256
    from notation_py.x509.names import format_name

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
    encrypt: Annotated[
        bool,
        typer.Option(
            "--encrypt",
            help="Encrypt the key with a passphrase (--passphrase-file, NOTATION_KEY_PASSPHRASE or a prompt).",
        ),
    ] = False,
    passphrase_file: PassphraseFileOpt = None,
) -> None:
    """Create a self-signed code-signing key and certificate for testing, and trust it."""
    from cryptography.hazmat.primitives import serialization

    from notation_py.config.files import KeySuite, SigningKeys
    from notation_py.envelope.encoding import format_rfc3339
    from notation_py.fsutil import atomic_write
    from notation_py.keys.encrypted import write_private_key
    from notation_py.keys.generate import issue_signing_certificate, notary_test_subject
    from notation_py.keys.resolve import key_passphrase
    from notation_py.policy.truststore import StoreType, is_valid_store_name

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
    passphrase = (
        key_passphrase(name, passphrase_file, new=True, error=UsageError) if encrypt or passphrase_file else None
    )
    issued = issue_signing_certificate(None, notary_test_subject(name), key_type=kt, validity=lifetime)
    out(f"generating {kt.upper()} key with {name}")
    cert_pem = issued.certificate.public_bytes(serialization.Encoding.PEM)
    cfg.local_keys.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_private_key(key_path, issued.key, passphrase)
    atomic_write(cert_path, cert_pem, mode=0o644)
    out(f"generated certificate expiring on {format_rfc3339(issued.certificate.not_valid_after_utc)}")
    trust_store().add_certificates(StoreType.CA, name, [cert_path])
    out(f"added certificate to trust store ca:{name}")
    # Absolute paths: a relative NOTATION_CONFIG must not make the key list depend on the working directory.
    suite = KeySuite(
        name=name,
        key_path=str(key_path.resolve()),
        cert_path=str(cert_path.resolve()),
        passphrase_file=str(passphrase_file.resolve()) if passphrase_file else None,
    )
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
    import contextlib

    from notation_py.config.files import SigningKeys
    from notation_py.policy.truststore import StoreType, is_valid_store_name

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


# ------------------------------------------------------------------------------------------------
# A small PKI: a root CA, an intermediate CA per team, leaf signing certificates
# ------------------------------------------------------------------------------------------------

OutputDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--output-dir", help="Where NAME.key and NAME.crt are written (default: {NOTATION_CONFIG}/localkeys)."
    ),
]
SubjectOpt = Annotated[
    str | None,
    typer.Option("--subject", help='Subject distinguished name, e.g. "CN=team-a,O=Acme" (default: CN=NAME).'),
]


def _validity(text: str) -> timedelta:
    lifetime = parse_duration(text, "--validity")
    if lifetime < timedelta(minutes=1):
        raise UsageError("--validity must be at least 1 minute")
    return lifetime


def _output_paths(name: str, output_dir: Path | None) -> tuple[Path, Path]:
    from notation_py.policy.truststore import is_valid_store_name

    if not is_valid_store_name(name):
        raise UsageError(f'"{name}" is not a valid name: use letters, digits, "_", "." and "-"')
    directory = output_dir if output_dir is not None else config_dir().local_keys
    return directory / f"{name}.key", directory / f"{name}.crt"


def _subject(name: str, subject: str | None) -> "x509.Name":
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    from notation_py.keys.generate import parse_subject

    return parse_subject(subject) if subject is not None else x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])


def _report_certificate(what: str, cert: "x509.Certificate", cert_path: Path) -> None:
    from notation_py.envelope.encoding import format_rfc3339
    from notation_py.x509.certs import thumbprint_sha256
    from notation_py.x509.names import format_name

    out(f"{what}: {format_name(cert.subject)}")
    out(f"  certificate chain: {cert_path}")
    out(f"  valid until: {format_rfc3339(cert.not_valid_after_utc)}")
    out(f"  SHA256 fingerprint: {thumbprint_sha256(cert)}")


@cert_app.command("create-ca")
def cert_create_ca(
    name: Annotated[str, typer.Argument(help="Name of the CA: the files NAME.key and NAME.crt.")],
    subject: SubjectOpt = None,
    key_type: Annotated[str, typer.Option("--key-type", help=f"One of {', '.join(KEY_TYPES)}.")] = "rsa-3072",
    validity: Annotated[str, typer.Option("--validity", help='Validity, e.g. "3650d" or "87600h".')] = "3650d",
    path_length: Annotated[
        int | None, typer.Option("--path-length", help="Most intermediate CAs allowed below the root (default: any).")
    ] = None,
    output_dir: OutputDirOpt = None,
    passphrase_file: PassphraseFileOpt = None,
    trust_store_name: Annotated[
        str | None, typer.Option("--trust-store", help="Also add the root certificate to the trust store ca:STORE.")
    ] = None,
) -> None:
    """Create a root CA: an encrypted key (NAME.key, 0600) and a self-signed CA certificate (NAME.crt).

    The certificate meets the Notary Project CA rules (basicConstraints cA=true and keyUsage
    keyCertSign, both critical). Put NAME.crt in the trust store of every verifier; keep NAME.key
    offline: it is needed only to issue intermediate CAs with "certificate issue --intermediate".
    """
    from notation_py.keys.encrypted import write_private_key
    from notation_py.keys.generate import create_root_ca, validate_ca_chain
    from notation_py.keys.material import ensure_absent, write_chain
    from notation_py.keys.resolve import key_passphrase
    from notation_py.policy.truststore import StoreType, is_valid_store_name

    key_path, cert_path = _output_paths(name, output_dir)
    if path_length is not None and path_length < 0:
        raise UsageError("--path-length must be 0 or more")
    if trust_store_name is not None and not is_valid_store_name(trust_store_name):
        raise UsageError(f"named store name needs to follow [a-zA-Z0-9_.-]+ format, {trust_store_name} is invalid")
    ca_subject = _subject(name, subject)
    lifetime = _validity(validity)
    ensure_absent(key_path, cert_path)
    passphrase = key_passphrase(name, passphrase_file, new=True, error=UsageError)
    root = create_root_ca(ca_subject, key_type=key_type, validity=lifetime, path_length=path_length)
    validate_ca_chain([root.certificate])
    key_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_private_key(key_path, root.key, passphrase)
    write_chain(cert_path, [root.certificate])
    out(f"private key (encrypted): {key_path}")
    _report_certificate("root CA", root.certificate, cert_path)
    if trust_store_name is not None:
        trust_store().add_certificates(StoreType.CA, trust_store_name, [cert_path])
        out(f"added certificate to trust store ca:{trust_store_name}")


@cert_app.command("issue")
def cert_issue(
    name: Annotated[str, typer.Argument(help="Name of the new certificate: NAME.crt (and NAME.key).")],
    ca_cert: Annotated[
        Path, typer.Option("--ca-cert", help="Chain of the issuing CA: its certificate first, the root last.")
    ],
    ca_key: Annotated[Path, typer.Option("--ca-key", help="Private key of the issuing CA (may be encrypted).")],
    intermediate: Annotated[
        bool, typer.Option("--intermediate", help="Issue an intermediate CA (e.g. per team).")
    ] = False,
    leaf: Annotated[bool, typer.Option("--leaf", help="Issue a code-signing certificate.")] = False,
    subject: SubjectOpt = None,
    key_type: Annotated[
        str | None,
        typer.Option(
            "--key-type", help=f"One of {', '.join(KEY_TYPES)} (default: rsa-3072 for CAs, rsa-2048 for leaves)."
        ),
    ] = None,
    validity: Annotated[
        str | None, typer.Option("--validity", help='Validity (default: "1825d" for CAs, "365d" for leaves).')
    ] = None,
    path_length: Annotated[
        int | None, typer.Option("--path-length", help="Intermediate CAs allowed below this one (default: 0).")
    ] = None,
    public_key: Annotated[
        str | None,
        typer.Option(
            "--public-key",
            help="Certify an existing key instead of generating one: a PEM/DER public key file or a pkcs11: URI.",
        ),
    ] = None,
    pin_file: Annotated[
        Path | None, typer.Option("--pin-file", help="File holding the token PIN (with a pkcs11: --public-key).")
    ] = None,
    output_dir: OutputDirOpt = None,
    passphrase_file: PassphraseFileOpt = None,
    ca_passphrase_file: Annotated[
        Path | None,
        typer.Option(
            "--ca-passphrase-file",
            help="File holding the passphrase of --ca-key (else NOTATION_CA_PASSPHRASE, else a prompt).",
        ),
    ] = None,
    unencrypted: Annotated[
        bool,
        typer.Option("--unencrypted", help="Leaf only: write the new key without a passphrase (notation can read it)."),
    ] = False,
    add_key: Annotated[
        bool, typer.Option("--add-key", help="Leaf only: add the key to signingkeys.json as NAME.")
    ] = False,
    default: Annotated[
        bool, typer.Option("--default", help="With --add-key: make it the default signing key.")
    ] = False,
) -> None:
    """Issue an intermediate CA or a code-signing certificate from a CA made by create-ca (or issue --intermediate).

    Writes NAME.crt, the whole chain (the new certificate first, the root last), and, unless
    --public-key is given, NAME.key, the new private key (encrypted, 0600). Every certificate meets
    the Notary Project rules, so a trust store holding the root accepts signatures from every leaf
    below it. Nothing is written when a check fails.
    """
    from datetime import UTC, datetime

    from cryptography import x509

    from notation_py.config.files import KeySuite, Pkcs11KeyConfig, SigningKeys
    from notation_py.envelope.algorithms import Algorithm, PrivateKey, PublicKey
    from notation_py.errors import CertificateError, UnsupportedEnvelopeError
    from notation_py.keys.encrypted import write_private_key
    from notation_py.keys.generate import CertRole, build_certificate, generate_key, validate_ca_chain
    from notation_py.keys.material import ensure_absent, load_authority, read_public_key_file, write_chain
    from notation_py.keys.passphrase import ENV_CA_PASSPHRASE, obtain_secret
    from notation_py.keys.pkcs11_uri import command_line_uri
    from notation_py.keys.resolve import key_passphrase
    from notation_py.x509.chain import validate_code_signing_chain

    if intermediate == leaf:
        raise UsageError("give exactly one of --intermediate and --leaf")
    role = CertRole.LEAF if leaf else CertRole.INTERMEDIATE
    if intermediate and (add_key or default or unencrypted):
        raise UsageError("--add-key, --default and --unencrypted are only for --leaf")
    if leaf and path_length is not None:
        raise UsageError("--path-length is only for --intermediate")
    if path_length is not None and path_length < 0:
        raise UsageError("--path-length must be 0 or more")
    if default and not add_key:
        raise UsageError("--default needs --add-key")
    if public_key is not None and (key_type or passphrase_file or unencrypted):
        raise UsageError(
            "--key-type, --passphrase-file and --unencrypted describe a new key; --public-key uses an existing one"
        )
    if pin_file is not None and not (public_key or "").lower().startswith("pkcs11:"):
        raise UsageError("--pin-file is only used with a pkcs11: --public-key")
    token_uri = (
        command_line_uri(public_key, "--public-key")
        if public_key is not None and public_key.lower().startswith("pkcs11:")
        else None
    )
    key_path, cert_path = _output_paths(name, output_dir)
    cert_subject = _subject(name, subject)
    lifetime = _validity(validity or ("365d" if leaf else "1825d"))
    ensure_absent(cert_path, *([] if public_key else [key_path]))
    cfg = config_dir()
    keys = SigningKeys.load(cfg.signing_keys) if add_key else None
    if keys is not None and any(k.name == name for k in keys.keys):
        raise UsageError(f'signing key "{name}" already exists')

    authority = load_authority(
        ca_cert,
        ca_key,
        lambda: obtain_secret(
            what=f"passphrase of CA key {ca_key}",
            file=ca_passphrase_file,
            env=ENV_CA_PASSPHRASE,
            file_flag="--ca-passphrase-file FILE",
        ),
    )
    if intermediate:
        constraints = authority.certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
        if constraints.path_length == 0:
            raise UsageError(
                f"--ca-cert {ca_cert} has path length 0: it can issue code-signing certificates (--leaf), "
                "not intermediate CAs"
            )
    pkcs11_config: Pkcs11KeyConfig | None = None
    new_key: PrivateKey | None = None
    passphrase: bytes | None = None
    if public_key is None:
        new_key = generate_key(key_type or ("rsa-2048" if leaf else "rsa-3072"))
        subject_key: PublicKey = new_key.public_key()
    elif token_uri is not None:
        from notation_py.keys.pkcs11 import Pkcs11KeySpec, read_token_public_key

        spec = Pkcs11KeySpec(uri=token_uri, pin_file=pin_file, name=name)
        subject_key = read_token_public_key(spec)
        pkcs11_config = Pkcs11KeyConfig(
            uri=public_key, cert_path=str(cert_path.resolve()), pin_file=str(pin_file.resolve()) if pin_file else None
        )
    else:
        subject_key = read_public_key_file(Path(public_key))
    if role is CertRole.LEAF:
        try:
            Algorithm.for_key(subject_key)
        except UnsupportedEnvelopeError as exc:
            raise UsageError(f"the key cannot make Notary signatures: {exc.message}") from None

    cert = build_certificate(
        role=role,
        subject=cert_subject,
        public_key=subject_key,
        issuer_key=authority.key,
        issuer_cert=authority.certificate,
        validity=lifetime,
        path_length=(path_length if path_length is not None else 0) if intermediate else None,
    )
    chain = [cert, *authority.chain]
    try:
        if leaf:
            validate_code_signing_chain(chain, datetime.now(UTC))
        else:
            validate_ca_chain(chain)
    except CertificateError as exc:
        raise UsageError(f"the issued certificate breaks the certificate rules: {exc.message}") from None

    if new_key is not None and not unencrypted:
        passphrase = key_passphrase(name, passphrase_file, new=True, error=UsageError)
    cert_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if new_key is not None:
        write_private_key(key_path, new_key, passphrase)
        out(f"private key ({'unencrypted' if passphrase is None else 'encrypted'}): {key_path}")
    write_chain(cert_path, chain)
    _report_certificate("intermediate CA" if intermediate else "code-signing certificate", cert, cert_path)
    if keys is not None:
        if pkcs11_config is not None:
            suite = KeySuite(name=name, pkcs11=pkcs11_config)
        else:
            suite = KeySuite(
                name=name,
                key_path=str(key_path.resolve()),
                cert_path=str(cert_path.resolve()),
                passphrase_file=str(passphrase_file.resolve()) if passphrase_file else None,
            )
        keys.add(suite, make_default=default).save(cfg.signing_keys)
        out(f"{name}: added to the key list" + (" and marked as default" if default else ""))
