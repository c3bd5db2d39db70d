"""``tlog proof``: show the transparency log proofs of an artifact's signatures, fetch missing ones."""

# No ``from __future__ import annotations`` in the command modules: typer evaluates every command's
# annotations each time the CLI starts, and from strings (eval and compile of each) that took three times
# as long. Modules a command needs are imported inside it (docs/performance.md, "CLI start-up").

from typing import TYPE_CHECKING, Annotated, Any

import typer

from notation_py.cli.app import tlog_app
from notation_py.cli.commands_artifact import (
    Debug,
    Insecure,
    MaxSignatures,
    OciLayout,
    Password,
    Reference,
    Username,
    resolve_quietly,
)
from notation_py.cli.context import (
    RemoteFlags,
    check_max_signatures,
    config_dir,
    enable_debug,
    open_target,
    out,
)
from notation_py.errors import NotationError, TrustPolicyError, UsageError

# The transparency, OCI and trust policy modules are imported inside the command (typer only needs its signature).
if TYPE_CHECKING:
    from notation_py.cli.render import Node


def _log_keys(keys: list[str] | None, scope: str | None) -> tuple[str, ...]:
    """``--tlog-key`` values, else the verifier keys of the trust policy statement for ``scope``."""
    from notation_py.policy.document import OCITrustPolicy

    if keys:
        return tuple(keys)
    cfg = config_dir()
    if scope is not None and (cfg.trust_policy_oci.exists() or cfg.trust_policy_legacy.exists()):
        policy = OCITrustPolicy.load(cfg.root).statement_for(scope).transparency_log
        if policy is not None:
            return policy.verifier_keys
    raise UsageError(
        "--tlog needs the log's verifier key to check what it returns: pass --tlog-key, or add a "
        "transparencyLog member with verifierKeys to the trust policy statement of this artifact"
    )


@tlog_app.command("proof")
def proof_command(
    reference: Reference,
    tlog: Annotated[
        str | None,
        typer.Option("--tlog", help="Fetch proofs for signatures that have none from this log.", metavar="URL"),
    ] = None,
    tlog_key: Annotated[
        list[str] | None,
        typer.Option("--tlog-key", help="The log's note verifier key (default: the trust policy's).", metavar="VKEY"),
    ] = None,
    attach: Annotated[
        bool, typer.Option("--attach", help="Store fetched proofs as referrers of their signatures.")
    ] = False,
    output: Annotated[str, typer.Option("--output", "-o", help="Output format: tree or json.")] = "tree",
    max_signatures: MaxSignatures = 100,
    oci_layout: OciLayout = False,
    scope: Annotated[
        str | None, typer.Option("--scope", help="Trust policy scope of an OCI layout (for the log key).")
    ] = None,
    insecure_registry: Insecure = False,
    username: Username = None,
    password: Password = None,
    debug: Debug = False,
) -> None:
    """Show each signature's transparency log proof; with --tlog, look up the ones that have none."""
    import json
    from datetime import UTC, datetime

    from notation_py.cli.render import StoredProof, render_tree
    from notation_py.cli.transparency import stored_proofs, summarize_proof
    from notation_py.oci.signatures import fetch_signature, list_signature_manifests
    from notation_py.transparency import (
        LogClient,
        LoggedSignature,
        TransparencyPolicy,
        find_in_log,
        push_proof_referrer,
    )

    enable_debug(debug)
    check_max_signatures(max_signatures)
    if output not in ("tree", "json"):
        raise UsageError(f'unrecognized output format "{output}": use "tree" or "json"')
    if attach and tlog is None:
        raise UsageError("--attach stores proofs fetched with --tlog: give --tlog URL")
    if tlog is not None and not tlog.startswith(("https://", "http://")):
        raise UsageError(f'--tlog must be an http(s) URL, got "{tlog}"')
    remote = RemoteFlags(insecure_registry, username, password)
    results: list[tuple[str, list[StoredProof]]] = []
    with open_target(reference, oci_layout, scope, remote) as target:
        subject = resolve_quietly(target, "inspect", announce=output == "tree")
        policy = None
        client = None
        if tlog is not None:
            keys = _log_keys(tlog_key, target.scope)
            try:
                policy = TransparencyPolicy(required=True, verifier_keys=keys, online=True, url=tlog)
            except TrustPolicyError as exc:
                raise UsageError(f"--tlog/--tlog-key: {exc.message}") from None
            client = LogClient(tlog)
        try:
            for manifest in list_signature_manifests(target.store, subject, max_signatures):
                proofs = list(stored_proofs(target.store, manifest))
                if not proofs and tlog is not None and client is not None and policy is not None:
                    try:
                        sig = fetch_signature(target.store, manifest, subject)
                        logged = LoggedSignature.for_artifact(sig.envelope, sig.envelope_media_type, subject, manifest)
                        inclusion = find_in_log(client, logged, policy)
                        location = f"{tlog} (fetched)"
                        if attach:
                            pushed = push_proof_referrer(
                                target.store, manifest, inclusion, datetime.now(UTC), announce_for=subject
                            )
                            location = f"{pushed.digest} (fetched and attached)"
                        proofs.append(summarize_proof(location, inclusion.proof))
                    except NotationError as exc:
                        proofs.append(StoredProof(tlog, error=exc.message))
                results.append((str(manifest.digest), proofs))
        finally:
            if client is not None:
                client.close()
    display = target.display(str(subject.digest))
    if output == "json":
        doc: dict[str, Any] = {
            "reference": display,
            "signatures": [{"digest": d, "transparencyLog": [p.to_dict() for p in ps]} for d, ps in results],
        }
        out(json.dumps(doc, indent=2))
        return
    if not results:
        out(f"{display} has no associated signature")
        return
    nodes: list[Node] = [
        (digest, [p.node() for p in proofs] or [("no transparency log proof", [])]) for digest, proofs in results
    ]
    out(render_tree((display, nodes)))
