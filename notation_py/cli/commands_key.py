"""``key``: the signing key list (``signingkeys.json``)."""

# No ``from __future__ import annotations`` in the command modules: typer evaluates every command's
# annotations each time the CLI starts, and from strings (eval and compile of each) that took three times
# as long. Modules a command needs are imported inside it (docs/performance.md, "CLI start-up").

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from notation_py.cli.app import key_app
from notation_py.cli.context import config_dir, out, parse_pairs
from notation_py.errors import UsageError

# The key modules (cryptography, PKCS#11) are imported inside the commands that use them: typer only
# needs the signatures below to build the CLI.
if TYPE_CHECKING:
    from notation_py.envelope.model import PrimitiveSigner

PassphraseFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--passphrase-file",
        help="File holding the passphrase of the local key (else NOTATION_KEY_PASSPHRASE, else a prompt).",
    ),
]
BackupPassphraseFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--backup-passphrase-file",
        help="File holding the passphrase of the backup (else NOTATION_BACKUP_PASSPHRASE, else a prompt).",
    ),
]


@key_app.command("add")
def key_add(
    name: Annotated[str, typer.Argument(help="Key name.")],
    plugin: Annotated[str | None, typer.Option("--plugin", help="Plugin name (plugin keys).")] = None,
    key_id: Annotated[str | None, typer.Option("--id", help="Key id within the plugin.")] = None,
    plugin_config: Annotated[list[str] | None, typer.Option("--plugin-config", help="key=value.")] = None,
    key_path: Annotated[Path | None, typer.Option("--key-path", help="Local private key file (PEM or DER).")] = None,
    cert_path: Annotated[Path | None, typer.Option("--cert-path", help="Certificate chain file, leaf first.")] = None,
    passphrase_file: Annotated[
        Path | None,
        typer.Option(
            "--passphrase-file",
            help="Encrypted --key-path: file holding its passphrase, recorded in signingkeys.json.",
        ),
    ] = None,
    pkcs11_uri: Annotated[
        str | None,
        typer.Option("--pkcs11-uri", help="A key in a PKCS#11 token (RFC 7512 pkcs11: URI, without the PIN)."),
    ] = None,
    pin_file: Annotated[
        Path | None,
        typer.Option("--pin-file", help="PKCS#11: file holding the token PIN, recorded in signingkeys.json."),
    ] = None,
    default: Annotated[bool, typer.Option("--default", help="Make it the default key.")] = False,
) -> None:
    """Add a local key (--key-path/--cert-path), a PKCS#11 key (--pkcs11-uri) or a plugin key (--plugin/--id).

    Local and PKCS#11 keys are loaded and checked first (passphrase or PIN, certificate chain,
    key matching the leaf): nothing is recorded when that fails.
    """
    from notation_py.config.files import KeySuite, Pkcs11KeyConfig, SigningKeys
    from notation_py.keys.pkcs11_uri import command_line_uri
    from notation_py.keys.resolve import local_signer, pkcs11_spec

    cfg = config_dir()
    keys = SigningKeys.load(cfg.signing_keys)
    if any(k.name == name for k in keys.keys):
        raise UsageError(f'signing key "{name}" already exists')
    if plugin or key_id:
        if not (plugin and key_id) or key_path or cert_path or pkcs11_uri or passphrase_file or pin_file:
            raise UsageError("a plugin key needs --plugin and --id (and no --key-path/--cert-path/--pkcs11-uri)")
        suite = KeySuite(
            name=name, id=key_id, plugin_name=plugin, plugin_config=parse_pairs(plugin_config, "--plugin-config")
        )
    elif pkcs11_uri:
        if key_path or passphrase_file:
            raise UsageError("--pkcs11-uri names the key: --key-path and --passphrase-file are for local key files")
        from notation_py.keys.pkcs11 import Pkcs11Signer

        command_line_uri(pkcs11_uri, "--pkcs11-uri")
        suite = KeySuite(
            name=name,
            pkcs11=Pkcs11KeyConfig(
                uri=pkcs11_uri,
                cert_path=str(cert_path.resolve()) if cert_path else None,
                pin_file=str(pin_file.resolve()) if pin_file else None,
            ),
        )
        signer = Pkcs11Signer(pkcs11_spec(suite, cfg.root))  # module, token, PIN, key and chain must work
        out(f"{name}: {signer.algorithm.display_name} key in the PKCS#11 token, certificate {_subject(signer)}")
    else:
        if pin_file:
            raise UsageError("--pin-file is only used with --pkcs11-uri")
        if not (key_path and cert_path):
            raise UsageError("give --key-path and --cert-path for a local key, --pkcs11-uri, or --plugin and --id")
        suite = KeySuite(
            name=name,
            key_path=str(key_path.resolve()),
            cert_path=str(cert_path.resolve()),
            passphrase_file=str(passphrase_file.resolve()) if passphrase_file else None,
        )
        local_signer(suite, cfg.root)  # the pair must load (decrypt) and match before it is recorded
    keys.add(suite, make_default=default).save(cfg.signing_keys)
    out(name + (" (default)" if default else ""))


def _subject(signer: "PrimitiveSigner") -> str:
    from notation_py.x509.names import format_name

    return format_name(signer.certificate_chain[0].subject)


@key_app.command("list")
def key_list() -> None:
    """List signing keys; * marks the default."""
    from notation_py.cli.render import render_table
    from notation_py.config.files import SigningKeys
    from notation_py.keys.pkcs11_uri import redact_pin_value

    keys = SigningKeys.load(config_dir().signing_keys)
    rows = [
        [
            ("* " if k.name == keys.default else "  ") + k.name,
            redact_pin_value(k.pkcs11.uri) if k.pkcs11 else k.key_path or "",
            (k.pkcs11.cert_path or "(from the token)") if k.pkcs11 else k.cert_path or "",
            k.id or "",
            k.plugin_name or "",
        ]
        for k in keys.keys
    ]
    out(render_table(["NAME", "KEY PATH", "CERTIFICATE PATH", "ID", "PLUGIN NAME"], rows))


key_app.command("ls", hidden=True)(key_list)


@key_app.command("update")
def key_update(
    name: Annotated[str, typer.Argument(help="Key name.")],
    default: Annotated[bool, typer.Option("--default", help="Make it the default key.")] = False,
) -> None:
    """Update a key (make it the default)."""
    from notation_py.config.files import SigningKeys

    cfg = config_dir()
    keys = SigningKeys.load(cfg.signing_keys)
    if not default:
        keys.get(name)
        out(f"Nothing to update for {name}")
        return
    keys.with_default(name).save(cfg.signing_keys)
    out(f"Updated {name} as the default signing key")


key_app.command("set", hidden=True)(key_update)


@key_app.command("delete")
def key_delete(names: Annotated[list[str], typer.Argument(help="Key names.")]) -> None:
    """Remove keys from the key list (key files are left in place)."""
    from notation_py.config.files import SigningKeys

    cfg = config_dir()
    keys = SigningKeys.load(cfg.signing_keys)
    removed = [keys.get(name) for name in names]
    for name in names:
        keys = keys.remove(name)
    keys.save(cfg.signing_keys)
    for suite in removed:
        if suite.is_plugin:
            kept = ""
        elif suite.is_pkcs11:
            kept = " (the key stays in the PKCS#11 token)"
        else:
            kept = " (the key and certificate files were kept)"
        out(f"Removed {suite.name} from the signing key list{kept}")


@key_app.command("export")
def key_export(
    name: Annotated[str, typer.Argument(help="Key name in signingkeys.json.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Backup file to write (PKCS#12, mode 0600).")],
    passphrase_file: PassphraseFileOpt = None,
    backup_passphrase_file: BackupPassphraseFileOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing backup file.")] = False,
) -> None:
    """Back up a local key and its certificate chain in a passphrase-encrypted PKCS#12 file.

    The key's own passphrase (if it is encrypted) comes from --passphrase-file, the key's
    passphraseFile, NOTATION_KEY_PASSPHRASE or a prompt; the backup's from --backup-passphrase-file,
    NOTATION_BACKUP_PASSPHRASE or a prompt (at least 8 characters). Keys in a PKCS#11 token cannot
    be exported.
    """
    from notation_py.config.files import SigningKeys
    from notation_py.fsutil import atomic_write
    from notation_py.keys.backup import export_backup
    from notation_py.keys.passphrase import ENV_BACKUP_PASSPHRASE, obtain_secret
    from notation_py.keys.resolve import local_signer

    cfg = config_dir()
    suite = SigningKeys.load(cfg.signing_keys).get(name)
    if suite.is_plugin or suite.is_pkcs11:
        where = "a plugin" if suite.is_plugin else "a PKCS#11 token"
        raise UsageError(f'signing key "{name}" is held by {where} and cannot be exported')
    if (output.exists() or output.is_symlink()) and not force:
        raise UsageError(f"{output} already exists; use --force to overwrite it")
    signer = local_signer(suite, cfg.root, passphrase_file=passphrase_file)
    passphrase = obtain_secret(
        what=f'passphrase of the backup of "{name}"',
        file=backup_passphrase_file,
        env=ENV_BACKUP_PASSPHRASE,
        file_flag="--backup-passphrase-file FILE",
        new=True,
    )
    data = export_backup(name, signer.private_key, signer.certificate_chain, passphrase)
    atomic_write(output, data, mode=0o600)
    out(f"Exported {name} (key and {len(signer.certificate_chain)} certificate(s)) to {output}")


@key_app.command("import")
def key_import(
    backup: Annotated[Path, typer.Argument(help="Backup file made by key export (PKCS#12).")],
    name: Annotated[str, typer.Option("--name", help="Name of the restored key in signingkeys.json.")],
    backup_passphrase_file: BackupPassphraseFileOpt = None,
    passphrase_file: Annotated[
        Path | None,
        typer.Option(
            "--passphrase-file",
            help="File holding the passphrase that encrypts the restored key file (else NOTATION_KEY_PASSPHRASE, "
            "else a prompt); recorded in signingkeys.json.",
        ),
    ] = None,
    output_dir: Annotated[
        Path | None,
        typer.Option(
            "--output-dir", help="Where NAME.key and NAME.crt are written (default: {NOTATION_CONFIG}/localkeys)."
        ),
    ] = None,
    default: Annotated[bool, typer.Option("--default", help="Make it the default signing key.")] = False,
) -> None:
    """Restore a key from a backup: NAME.key (encrypted PKCS#8, 0600), NAME.crt (the chain), a signingkeys.json entry.

    The key and chain are checked like a key being signed with (matching key, Notary certificate
    rules, valid now) before anything is written.
    """
    from datetime import UTC, datetime

    from notation_py.config.files import KeySuite, SigningKeys
    from notation_py.errors import CertificateError, SigningKeyError
    from notation_py.keys.backup import import_backup
    from notation_py.keys.encrypted import write_private_key
    from notation_py.keys.local import LocalSigner
    from notation_py.keys.material import ensure_absent, write_chain
    from notation_py.keys.passphrase import ENV_BACKUP_PASSPHRASE, obtain_secret
    from notation_py.keys.resolve import key_passphrase
    from notation_py.policy.truststore import is_valid_store_name
    from notation_py.x509.chain import validate_code_signing_chain

    if not is_valid_store_name(name):
        raise UsageError(f'"{name}" is not a valid name: use letters, digits, "_", "." and "-"')
    cfg = config_dir()
    keys = SigningKeys.load(cfg.signing_keys)
    if any(k.name == name for k in keys.keys):
        raise UsageError(f'signing key "{name}" already exists')
    directory = output_dir if output_dir is not None else cfg.local_keys
    key_path, cert_path = directory / f"{name}.key", directory / f"{name}.crt"
    ensure_absent(key_path, cert_path)
    try:
        data = backup.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read backup {backup}: {exc.strerror}") from None
    backup_passphrase = obtain_secret(
        what=f"passphrase of the backup {backup}",
        file=backup_passphrase_file,
        env=ENV_BACKUP_PASSPHRASE,
        file_flag="--backup-passphrase-file FILE",
        error=SigningKeyError,
    )
    restored = import_backup(data, backup_passphrase, str(backup))
    signer = LocalSigner(restored.key, restored.chain)
    try:
        validate_code_signing_chain(signer.certificate_chain, datetime.now(UTC))
    except CertificateError as exc:
        raise SigningKeyError(f"the certificate chain in {backup} cannot be used for signing: {exc.message}") from None
    passphrase = key_passphrase(name, passphrase_file, new=True, error=UsageError)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_private_key(key_path, restored.key, passphrase)
    write_chain(cert_path, restored.chain)
    suite = KeySuite(
        name=name,
        key_path=str(key_path.resolve()),
        cert_path=str(cert_path.resolve()),
        passphrase_file=str(passphrase_file.resolve()) if passphrase_file else None,
    )
    keys.add(suite, make_default=default).save(cfg.signing_keys)
    out(f"Imported {name}: {key_path} (encrypted), {cert_path} ({len(restored.chain)} certificate(s))")
