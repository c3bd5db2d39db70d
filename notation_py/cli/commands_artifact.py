"""``sign``, ``verify``, ``inspect``, ``list`` and ``version`` for OCI artifacts."""

# No ``from __future__ import annotations`` in the command modules: typer evaluates every command's
# annotations each time the CLI starts, and from strings (eval and compile of each) that took three times
# as long. Modules a command needs are imported inside it (docs/performance.md, "CLI start-up").

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from notation_py.cli.app import app
from notation_py.cli.context import (
    RemoteFlags,
    Target,
    check_max_signatures,
    config_dir,
    enable_debug,
    load_oci_policy,
    open_target,
    out,
    parse_expiry,
    parse_pairs,
    resolve_signer,
    set_machine_output,
    signature_media_type,
    timeout_setting,
    warn,
)
from notation_py.cli.json_output import check_output_format, descriptor_json, emit, failure_json
from notation_py.errors import DeadlineExceededError, NotationError, UsageError, VerificationError

# The signing, verification, envelope, OCI and transparency modules are imported inside the commands
# that use them: typer only needs the signatures below (and the Annotated aliases) to build the CLI.
if TYPE_CHECKING:
    from notation_py.cli.render import InspectedSignature
    from notation_py.oci.descriptor import Descriptor
    from notation_py.verify import SignatureOutcome

Reference = Annotated[str, typer.Argument(help="Artifact reference; with --oci-layout: DIR:TAG or DIR@sha256:...")]
OciLayout = Annotated[bool, typer.Option("--oci-layout", help="The reference is an OCI image layout directory.")]
MaxSignatures = Annotated[int, typer.Option("--max-signatures", help="Maximum number of signatures to evaluate.")]
Debug = Annotated[bool, typer.Option("--debug", "-d", help="Debug output.")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Verbose output.")]
Insecure = Annotated[
    bool, typer.Option("--insecure-registry", help="Use plain HTTP for this registry (never for production).")
]
Username = Annotated[
    str | None, typer.Option("--username", "-u", help="Registry user name (default $NOTATION_USERNAME).")
]
Password = Annotated[
    str | None, typer.Option("--password", "-p", help="Registry password (default $NOTATION_PASSWORD).")
]
PassphraseFile = Annotated[
    Path | None,
    typer.Option(
        "--passphrase-file",
        help="File holding the passphrase of an encrypted key (default: passphraseFile, $NOTATION_KEY_PASSPHRASE, a prompt).",
        metavar="FILE",
    ),
]
TlogUrl = Annotated[
    str | None,
    typer.Option("--tlog", help="Transparency log URL (default: config.json transparencyLog.url).", metavar="URL"),
]
TlogTokenFile = Annotated[
    Path | None,
    typer.Option(
        "--tlog-token-file", help="File with the log's bearer token (default $NOTATION_TLOG_TOKEN).", metavar="FILE"
    ),
]
TlogOptional = Annotated[
    bool, typer.Option("--tlog-optional", help="Keep the signature (with a warning) if the log cannot record it.")
]
Timeout = Annotated[
    str | None,
    typer.Option(
        "--timeout",
        help="Overall deadline of the command's network I/O, in seconds (default: config.json timeout, else 60).",
        metavar="SECONDS",
    ),
]
Output = Annotated[
    str, typer.Option("--output", "-o", help="Output format: text, or json (one document on stdout).", metavar="FORMAT")
]
TlogOnline = Annotated[
    bool,
    typer.Option(
        "--tlog-online",
        help="Also ask the log: consistency with its latest checkpoint, and search for signatures without a proof.",
    ),
]


def _resolve(target: Target, verb: str) -> "Descriptor":
    subject = target.store.resolve(target.ref)
    _announce_resolved(target.tag, str(subject.digest), verb)
    return subject


def _announce_resolved(tag: str | None, digest: str, verb: str) -> None:
    """notation's warning that a tag was resolved (tags are mutable), and the digest it resolved to."""
    if tag is None:
        return
    warn(
        f"Always {verb} the artifact using digest(@sha256:...) rather than a tag(:{tag}) "
        "because tags are mutable and a tag reference can point to a different artifact than the one "
        f"{'signed' if verb == 'sign' else 'verified'}."
    )
    out(f"Resolved artifact tag `{tag}` to digest `{digest}` before {verb}.")


def resolve_quietly(target: Target, verb: str, *, announce: bool) -> "Descriptor":
    """Resolve for read-only commands: warn (on stderr) that a tag may move, as notation does."""
    subject = target.store.resolve(target.ref)
    if target.tag is not None and announce:
        warn(
            f"Resolved artifact tag `{target.tag}` to digest `{subject.digest}` before {verb}; "
            "the resolved digest may not point to the same signed artifact, since tags are mutable."
        )
    return subject


@app.command("sign")
def sign_command(
    reference: Reference,
    key: Annotated[str | None, typer.Option("--key", "-k", help="Signing key name from signingkeys.json.")] = None,
    signature_format: Annotated[
        str | None, typer.Option("--signature-format", help="Envelope format: jws (default) or cose.")
    ] = None,
    expiry: Annotated[
        str | None, typer.Option("--expiry", "-e", help='Optional expiry duration, e.g. "12h", "30m", "3h20m".')
    ] = None,
    user_metadata: Annotated[
        list[str] | None, typer.Option("--user-metadata", "-m", help="key=value metadata added to the payload.")
    ] = None,
    plugin: Annotated[str | None, typer.Option("--plugin", help="Signing plugin name (with --id).")] = None,
    key_id: Annotated[str | None, typer.Option("--id", help="Key id for --plugin.")] = None,
    plugin_config: Annotated[
        list[str] | None, typer.Option("--plugin-config", help="key=value for the plugin.")
    ] = None,
    timestamp_url: Annotated[str | None, typer.Option("--timestamp-url", help="RFC 3161 TSA URL.")] = None,
    timestamp_root_cert: Annotated[
        str | None, typer.Option("--timestamp-root-cert", help="TSA root certificate file.")
    ] = None,
    oci_layout: OciLayout = False,
    force_referrers_tag: Annotated[
        bool,
        typer.Option("--force-referrers-tag", help="Store the signature via the referrers tag schema only."),
    ] = False,
    insecure_registry: Insecure = False,
    username: Username = None,
    password: Password = None,
    passphrase_file: PassphraseFile = None,
    tlog: TlogUrl = None,
    tlog_token_file: TlogTokenFile = None,
    tlog_optional: TlogOptional = False,
    timeout: Timeout = None,
    output: Output = "text",
    debug: Debug = False,
    verbose: Verbose = False,
) -> None:
    """Sign an artifact and store the signature as a referrer of it (and record it in a transparency log)."""
    from notation_py.cli.json_output import recorded_json
    from notation_py.cli.signing import timestamper
    from notation_py.cli.transparency import log_target, record_artifact
    from notation_py.deadline import deadline_scope
    from notation_py.sign import SignOptions

    machine = check_output_format(output)
    set_machine_output(machine)
    enable_debug(debug)
    limit = timeout_setting(timeout)
    metadata = parse_pairs(user_metadata, "--user-metadata")
    signing_plugin_config = parse_pairs(plugin_config, "--plugin-config")
    remote = RemoteFlags(insecure_registry, username, password, force_referrers_tag)
    log = log_target(tlog, tlog_token_file, tlog_optional)
    with (
        timestamper(timestamp_url, timestamp_root_cert) as tsa,
        open_target(reference, oci_layout, remote=remote) as target,
    ):
        options = SignOptions(
            envelope_media_type=signature_media_type(signature_format),
            expiry=parse_expiry(expiry),
            user_metadata=metadata,
            timestamper=tsa,
        )
        signer = resolve_signer(
            key, plugin, key_id, passphrase_file=passphrase_file, plugin_config=signing_plugin_config
        )
        # The clock starts once the key is ready: a passphrase or PIN prompt may take its time.
        with deadline_scope(limit.start(f"signing {reference}")):
            subject = _resolve(target, "sign")
            signed = signer.sign_artifact(target.store, str(subject.digest), options)
            out(f"Successfully signed {target.display(str(signed.subject.digest))}")
            if verbose or debug:
                out(f"Signature manifest: {signed.signature_manifest.digest}")
            recorded = None
            if log is not None:
                repository = None if oci_layout else target.scope
                recorded = record_artifact(log, target.store, signed, options.envelope_media_type, repository)
            if machine:
                emit(
                    "sign",
                    {
                        "reference": target.display(str(signed.subject.digest)),
                        "subject": descriptor_json(signed.subject),
                        "signatureManifest": descriptor_json(signed.signature_manifest),
                        "envelopeMediaType": options.envelope_media_type,
                        "transparency": recorded_json(recorded),
                    },
                )


def _print_verified(display: str, outcome: "SignatureOutcome") -> None:
    for result in outcome.warnings:
        warn(f'{result.check.value} was set to "log" and failed with error: {result.error}')
    out(f"Successfully verified signature for {display}")
    if outcome.transparency is not None:
        logged = outcome.transparency
        out(
            f"Recorded in transparency log {logged.origin} at index {logged.index} "
            f"(proven under checkpoint size {logged.tree_size})"
        )
    if outcome.target and outcome.target.annotations:
        out("\nThe artifact was signed with the following user metadata.\n")
        width = max(len("KEY"), *(len(k) for k in outcome.target.annotations))
        out(f"{'KEY'.ljust(width)}   VALUE")
        for k, v in outcome.target.annotations.items():
            out(f"{k.ljust(width)}   {v}")


@app.command("verify")
def verify_command(
    reference: Reference,
    user_metadata: Annotated[
        list[str] | None, typer.Option("--user-metadata", "-m", help="key=value that must be in the signed payload.")
    ] = None,
    plugin_config: Annotated[list[str] | None, typer.Option("--plugin-config", help="key=value for a plugin.")] = None,
    max_signatures: MaxSignatures = 100,
    oci_layout: OciLayout = False,
    scope: Annotated[
        str | None, typer.Option("--scope", help="Trust policy scope for an OCI layout, e.g. local/app.")
    ] = None,
    insecure_registry: Insecure = False,
    username: Username = None,
    password: Password = None,
    tlog_online: TlogOnline = False,
    tlog: Annotated[
        str | None, typer.Option("--tlog", help="Log URL for --tlog-online (default: the policy's).", metavar="URL")
    ] = None,
    timeout: Timeout = None,
    output: Output = "text",
    debug: Debug = False,
    verbose: Verbose = False,
) -> None:
    """Verify that an artifact carries a signature trusted by the trust policy."""
    from notation_py.cli.json_output import verification_json
    from notation_py.deadline import deadline_scope
    from notation_py.oci.reference import LayoutReference, RegistryReference
    from notation_py.verifier import Verifier, VerifierConfig

    machine = check_output_format(output)
    set_machine_output(machine)
    enable_debug(debug)
    limit = timeout_setting(timeout)
    metadata = parse_pairs(user_metadata, "--user-metadata")
    verify_plugin_config = parse_pairs(plugin_config, "--plugin-config")
    check_max_signatures(max_signatures)
    if oci_layout and not scope:
        raise UsageError("--scope is required with --oci-layout (the trust policy scope of the layout)")
    if not oci_layout and scope is not None:
        raise UsageError("--scope is only used with --oci-layout; a registry reference is its own scope")
    if tlog is not None and not tlog.startswith(("https://", "http://")):
        raise UsageError(f'--tlog must be an http(s) URL, got "{tlog}"')
    load_oci_policy()  # notation's message when there is none
    insecure: frozenset[str] = frozenset()
    if insecure_registry and not oci_layout:
        insecure = frozenset({RegistryReference.parse(reference).registry})
    settings = VerifierConfig(
        timeout=limit.seconds,
        max_signatures=max_signatures,
        insecure_registries=insecure,
        username=username,
        password=password,
        tlog_online=tlog_online,
        tlog_url=tlog,
        plugin_config=verify_plugin_config,
    )
    with (
        Verifier.from_config(config_dir().root, config=settings) as verifier,
        deadline_scope(limit.start(f"verification of {reference}")),
    ):
        if oci_layout:
            layout = LayoutReference.parse(reference)
            artifact = verifier.resolve(layout.reference, oci_layout=layout.path, scope=scope)
        else:
            artifact = verifier.resolve(reference)
        _announce_resolved(artifact.tag, str(artifact.subject.digest), "verify")
        try:
            result = verifier.verify_artifact(artifact, user_metadata=metadata)
        except VerificationError as exc:
            if machine:
                emit("verify", failure_json(artifact.display, exc.message, exc.failures))
            raise
    if machine:
        emit("verify", verification_json(result))
        return
    if result.skipped or result.verified is None:
        out(f"Trust policy is configured to skip signature verification for {result.reference}")
        return
    if verbose or debug:
        out(f"Verified signature manifest {result.verified.source}")
    _print_verified(result.reference, result.verified)


def _inspected(target: Target, subject: "Descriptor", max_signatures: int) -> "list[InspectedSignature]":
    from notation_py.cli.render import InspectedSignature
    from notation_py.cli.transparency import stored_proofs
    from notation_py.envelope import parse_envelope
    from notation_py.oci.signatures import fetch_signature, list_signature_manifests

    found: list[InspectedSignature] = []
    for manifest in list_signature_manifests(target.store, subject, max_signatures):
        try:
            sig = fetch_signature(target.store, manifest, subject)
            content = parse_envelope(sig.envelope_media_type, sig.envelope)
            found.append(
                InspectedSignature(
                    str(manifest.digest), sig.envelope_media_type, content, logged=stored_proofs(target.store, manifest)
                )
            )
        except DeadlineExceededError:
            raise  # ends the command; it says nothing about this signature
        except NotationError as exc:
            found.append(InspectedSignature(str(manifest.digest), "", None, exc.message))
    return found


@app.command("inspect")
def inspect_command(
    reference: Reference,
    output: Annotated[str, typer.Option("--output", "-o", help="Output format: tree or json.")] = "tree",
    max_signatures: MaxSignatures = 100,
    oci_layout: OciLayout = False,
    insecure_registry: Insecure = False,
    username: Username = None,
    password: Password = None,
    timeout: Timeout = None,
    debug: Debug = False,
) -> None:
    """Show every signature of an artifact (envelope, attributes, certificates)."""
    import json

    from notation_py.cli.render import inspect_json, inspect_tree
    from notation_py.deadline import deadline_scope

    check_max_signatures(max_signatures)
    enable_debug(debug)
    if output not in ("tree", "json"):
        raise UsageError(f'unrecognized output format "{output}": use "tree" or "json"')
    limit = timeout_setting(timeout)
    with (
        deadline_scope(limit.start(f"inspecting {reference}")),
        open_target(reference, oci_layout, remote=RemoteFlags(insecure_registry, username, password)) as target,
    ):
        subject = resolve_quietly(target, "inspect", announce=output == "tree")
        sigs = _inspected(target, subject, max_signatures)
    display = target.display(str(subject.digest))
    if output == "json":
        out(json.dumps(inspect_json(subject.media_type, sigs), indent=2))
    elif not sigs:
        out(f"{display} has no associated signature")
    else:
        out("Inspecting all signatures for signed artifact")
        out(inspect_tree(display, sigs))


@app.command("list")
def list_command(
    reference: Reference,
    max_signatures: MaxSignatures = 100,
    oci_layout: OciLayout = False,
    insecure_registry: Insecure = False,
    username: Username = None,
    password: Password = None,
    timeout: Timeout = None,
    output: Output = "text",
    debug: Debug = False,
) -> None:
    """List the signature manifests of an artifact."""
    from notation_py.cli.render import render_tree
    from notation_py.deadline import deadline_scope
    from notation_py.oci.signatures import list_signature_manifests

    machine = check_output_format(output)
    set_machine_output(machine)
    check_max_signatures(max_signatures)
    enable_debug(debug)
    limit = timeout_setting(timeout)
    with (
        deadline_scope(limit.start(f"listing the signatures of {reference}")),
        open_target(reference, oci_layout, remote=RemoteFlags(insecure_registry, username, password)) as target,
    ):
        subject = resolve_quietly(target, "list", announce=True)
        manifests = list(list_signature_manifests(target.store, subject, max_signatures))
    digests = [str(m.digest) for m in manifests]
    display = target.display(str(subject.digest))
    if machine:
        signatures = [{**descriptor_json(m), "artifactType": m.artifact_type} for m in manifests]
        emit("list", {"reference": display, "subject": descriptor_json(subject), "signatures": signatures})
        return
    if not digests:
        out(f"{display} has no associated signature")
        return
    out(render_tree((display, [("application/vnd.cncf.notary.signature", [(d, []) for d in digests])])))


app.command("ls", hidden=True)(list_command)


@app.command("version")
def version_command() -> None:
    """Show the version."""
    from notation_py import __version__

    out(f"notation-py {__version__}")
