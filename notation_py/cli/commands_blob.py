"""``blob sign|verify|inspect`` and ``blob policy import|show|init``."""

# No ``from __future__ import annotations`` in the command modules: typer evaluates every command's
# annotations each time the CLI starts, and from strings (eval and compile of each) that took three times
# as long. Modules a command needs are imported inside it (docs/performance.md, "CLI start-up").

from pathlib import Path
from typing import Annotated

import typer

from notation_py.cli.app import blob_app, blob_policy_app
from notation_py.cli.commands_artifact import Output, PassphraseFile, Timeout
from notation_py.cli.context import (
    config_dir,
    enable_debug,
    load_blob_policy,
    out,
    parse_expiry,
    parse_pairs,
    resolve_signer,
    set_machine_output,
    signature_media_type,
    timeout_setting,
    warn,
)
from notation_py.cli.json_output import check_output_format, emit, failure_json
from notation_py.errors import NotationError, UsageError, VerificationError
from notation_py.sign import DEFAULT_BLOB_MEDIA_TYPE  # notation_py.sign imports no cryptography at module level


def _extension(envelope_media_type: str) -> str:
    """``jws`` or ``cose``: the middle part of a signature file's name."""
    from notation_py.envelope import MEDIA_TYPE_COSE, MEDIA_TYPE_JWS

    return {MEDIA_TYPE_JWS: "jws", MEDIA_TYPE_COSE: "cose"}[envelope_media_type]


@blob_app.command("sign")
def blob_sign(
    blob: Annotated[Path, typer.Argument(help="The file to sign.")],
    key: Annotated[str | None, typer.Option("--key", "-k", help="Signing key name.")] = None,
    signature_format: Annotated[str | None, typer.Option("--signature-format", help="jws (default) or cose.")] = None,
    media_type: Annotated[
        str, typer.Option("--media-type", help="Media type recorded for the blob.")
    ] = DEFAULT_BLOB_MEDIA_TYPE,
    expiry: Annotated[str | None, typer.Option("--expiry", "-e", help='Expiry duration, e.g. "12h".')] = None,
    user_metadata: Annotated[list[str] | None, typer.Option("--user-metadata", "-m", help="key=value.")] = None,
    signature_directory: Annotated[
        Path, typer.Option("--signature-directory", help="Where to write the signature file.")
    ] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing signature file.")] = False,
    plugin: Annotated[str | None, typer.Option("--plugin", help="Signing plugin name.")] = None,
    key_id: Annotated[str | None, typer.Option("--id", help="Key id for --plugin.")] = None,
    plugin_config: Annotated[list[str] | None, typer.Option("--plugin-config", help="key=value.")] = None,
    timestamp_url: Annotated[str | None, typer.Option("--timestamp-url", help="RFC 3161 TSA URL.")] = None,
    timestamp_root_cert: Annotated[str | None, typer.Option("--timestamp-root-cert", help="TSA root cert.")] = None,
    passphrase_file: PassphraseFile = None,
    tlog: Annotated[
        str | None, typer.Option("--tlog", help="Transparency log URL (default: config.json).", metavar="URL")
    ] = None,
    tlog_token_file: Annotated[
        Path | None, typer.Option("--tlog-token-file", help="File with the log's bearer token.", metavar="FILE")
    ] = None,
    tlog_optional: Annotated[
        bool, typer.Option("--tlog-optional", help="Keep the signature if the log cannot record it.")
    ] = False,
    timeout: Timeout = None,
    output: Output = "text",
    debug: Annotated[bool, typer.Option("--debug", "-d", help="Debug output.")] = False,
) -> None:
    """Sign a file; writes <name>.<jws|cose>.sig into --signature-directory (default: the current directory).

    With a transparency log, the signature is recorded and the proof written to <signature>.tlog-proof.
    """
    from notation_py.cli.json_output import recorded_json
    from notation_py.cli.signing import timestamper
    from notation_py.cli.transparency import log_target, record_blob
    from notation_py.deadline import deadline_scope
    from notation_py.fsutil import atomic_write
    from notation_py.sign import SignOptions

    machine = check_output_format(output)
    set_machine_output(machine)
    enable_debug(debug)
    limit = timeout_setting(timeout)
    metadata = parse_pairs(user_metadata, "--user-metadata")
    signing_plugin_config = parse_pairs(plugin_config, "--plugin-config")
    if not blob.is_file():
        raise UsageError(f"blob {blob} does not exist or is not a regular file")
    envelope_type = signature_media_type(signature_format)
    destination = signature_directory / f"{blob.name}.{_extension(envelope_type)}.sig"
    if destination.exists() and not force:
        raise UsageError(f"signature file {destination} already exists, use --force to overwrite it")
    log = log_target(tlog, tlog_token_file, tlog_optional)
    with timestamper(timestamp_url, timestamp_root_cert) as tsa:
        options = SignOptions(
            envelope_media_type=envelope_type,
            expiry=parse_expiry(expiry),
            user_metadata=metadata,
            timestamper=tsa,
        )
        signer = resolve_signer(
            key, plugin, key_id, passphrase_file=passphrase_file, plugin_config=signing_plugin_config
        )
        # The clock starts once the key is ready: a passphrase or PIN prompt may take its time.
        deadline = limit.start(f"signing {blob}")
        with deadline_scope(deadline):
            envelope = signer.sign_blob(blob, options, blob_media_type=media_type)
    atomic_write(destination, envelope)
    out(f"Successfully signed {blob}")
    out(f"Signature file written to {destination}")
    recorded = None
    if log is not None:
        with deadline_scope(deadline):
            recorded = record_blob(log, destination, envelope, envelope_type)
    if machine:
        emit(
            "blob sign",
            {
                "blob": str(blob),
                "signature": str(destination),
                "envelopeMediaType": envelope_type,
                "transparency": recorded_json(recorded),
            },
        )


@blob_app.command("verify")
def blob_verify(
    blob: Annotated[Path, typer.Argument(help="The file whose signature is verified.")],
    signature: Annotated[Path, typer.Option("--signature", "-s", help="The <name>.<jws|cose>.sig file.")],
    policy_name: Annotated[str | None, typer.Option("--policy-name", help="Blob trust policy statement.")] = None,
    media_type: Annotated[str | None, typer.Option("--media-type", help="Expected blob media type.")] = None,
    user_metadata: Annotated[list[str] | None, typer.Option("--user-metadata", "-m", help="key=value.")] = None,
    plugin_config: Annotated[list[str] | None, typer.Option("--plugin-config", help="key=value.")] = None,
    tlog_online: Annotated[
        bool, typer.Option("--tlog-online", help="Also check the proof against the log's latest checkpoint.")
    ] = False,
    tlog: Annotated[
        str | None, typer.Option("--tlog", help="Log URL for --tlog-online (default: the policy's).", metavar="URL")
    ] = None,
    timeout: Timeout = None,
    output: Output = "text",
    debug: Annotated[bool, typer.Option("--debug", "-d", help="Debug output.")] = False,
) -> None:
    """Verify a file against its detached signature under the blob trust policy.

    A statement with ``transparencyLog`` also needs the proof <signature>.tlog-proof (or, online, the log).
    """
    from notation_py.cli.json_output import verification_json
    from notation_py.deadline import deadline_scope
    from notation_py.verifier import Verifier, VerifierConfig, signature_file_media_type

    machine = check_output_format(output)
    set_machine_output(machine)
    enable_debug(debug)
    limit = timeout_setting(timeout)
    metadata = parse_pairs(user_metadata, "--user-metadata")
    verify_plugin_config = parse_pairs(plugin_config, "--plugin-config")
    signature_file_media_type(signature)  # notation checks the file name first
    if not blob.is_file():
        raise UsageError(f"blob {blob} does not exist or is not a regular file")
    if tlog is not None and not tlog.startswith(("https://", "http://")):
        raise UsageError(f'--tlog must be an http(s) URL, got "{tlog}"')
    load_blob_policy()  # notation's message when there is none
    settings = VerifierConfig(
        timeout=limit.seconds, tlog_online=tlog_online, tlog_url=tlog, plugin_config=verify_plugin_config
    )
    with (
        Verifier.from_config(config_dir().root, config=settings) as verifier,
        deadline_scope(limit.start(f"verification of {signature}")),
    ):
        try:
            result = verifier.verify_blob(
                blob, signature, policy_name=policy_name, user_metadata=metadata, media_type=media_type
            )
        except VerificationError as exc:
            if machine:
                emit("blob verify", failure_json(str(signature), exc.message, exc.failures or [exc.message]))
            raise
    if machine:
        emit("blob verify", verification_json(result))
        return
    if result.skipped or result.verified is None:
        out(f"Trust policy is configured to skip signature verification for {blob}")
        return
    outcome = result.verified
    for warning in outcome.warnings:
        warn(f'{warning.check.value} was set to "log" and failed with error: {warning.error}')
    out(f"Successfully verified signature {signature}")
    if outcome.transparency is not None:
        logged = outcome.transparency
        out(
            f"Recorded in transparency log {logged.origin} at index {logged.index} "
            f"(proven under checkpoint size {logged.tree_size})"
        )


@blob_app.command("inspect")
def blob_inspect(
    signature: Annotated[Path, typer.Argument(help="The <name>.<jws|cose>.sig file.")],
    output: Annotated[str, typer.Option("--output", "-o", help="tree or json.")] = "tree",
    debug: Annotated[bool, typer.Option("--debug", "-d", help="Debug output.")] = False,
) -> None:
    """Show the content of a blob signature file."""
    import hashlib
    import json

    from notation_py.cli.render import InspectedSignature, StoredProof, blob_inspect_tree, signature_json
    from notation_py.cli.transparency import summarize_proof
    from notation_py.envelope import parse_envelope
    from notation_py.transparency.files import proof_file_path
    from notation_py.verifier import read_signature_file, signature_file_media_type

    enable_debug(debug)
    if output not in ("tree", "json"):
        raise UsageError(f'unrecognized output format "{output}": use "tree" or "json"')
    envelope_type = signature_file_media_type(signature)
    envelope = read_signature_file(signature)
    try:
        content = parse_envelope(envelope_type, envelope)
    except NotationError as exc:
        raise UsageError(f"failed to parse signature: {exc.message}") from None
    proof_path = proof_file_path(signature)
    logged: tuple[StoredProof, ...] = ()
    if proof_path.is_file():
        try:
            logged = (summarize_proof(str(proof_path), proof_path.read_bytes()),)
        except OSError as exc:
            logged = (StoredProof(str(proof_path), error=f"cannot read: {exc.strerror}"),)
    sig = InspectedSignature(f"sha256:{hashlib.sha256(envelope).hexdigest()}", envelope_type, content, logged=logged)
    if output == "json":
        out(json.dumps(signature_json(sig), indent=2))
    else:
        out(blob_inspect_tree(str(signature), sig))


@blob_policy_app.command("import")
def blob_policy_import(
    file: Annotated[Path, typer.Argument(help="Blob trust policy JSON file.")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing policy.")] = False,
) -> None:
    """Validate and install a blob trust policy."""
    from notation_py.cli.policy_io import import_policy
    from notation_py.policy.document import BlobTrustPolicy

    import_policy(BlobTrustPolicy, file, config_dir().trust_policy_blob, force)


@blob_policy_app.command("show")
def blob_policy_show() -> None:
    """Print the blob trust policy."""
    from notation_py.cli.policy_io import show_policy
    from notation_py.policy.document import BlobTrustPolicy

    show_policy(BlobTrustPolicy, config_dir().trust_policy_blob)


@blob_policy_app.command("init")
def blob_policy_init(
    name: Annotated[str, typer.Option("--name", help="Statement name.")],
    trust_stores: Annotated[
        list[str] | None, typer.Option("--trust-store", help='"<type>:<store>", repeatable (not with skip).')
    ] = None,
    trusted_identities: Annotated[
        list[str] | None,
        typer.Option("--trusted-identity", help='"x509.subject: <DN>" or "*", repeatable (not with skip).'),
    ] = None,
    level: Annotated[str, typer.Option("--level", help="strict, permissive, audit or skip.")] = "strict",
    global_policy: Annotated[bool, typer.Option("--global", help="Use this statement when no name is given.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing policy.")] = False,
) -> None:
    """Create a blob trust policy with one statement."""
    from notation_py.cli.policy_io import import_policy, init_statement
    from notation_py.policy.document import BlobTrustPolicy

    statement: dict[str, object] = init_statement(name, level, trust_stores or [], trusted_identities or [])
    if global_policy:
        statement["globalPolicy"] = True
    doc = {"version": "1.0", "trustPolicies": [statement]}
    import_policy(BlobTrustPolicy, None, config_dir().trust_policy_blob, force, document=doc)
