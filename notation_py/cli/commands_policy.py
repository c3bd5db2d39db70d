"""``policy``: the OCI trust policy (``trustpolicy.oci.json``)."""

# No ``from __future__ import annotations`` in the command modules: typer evaluates every command's
# annotations each time the CLI starts, and from strings (eval and compile of each) that took three times
# as long. Modules a command needs are imported inside it (docs/performance.md, "CLI start-up").

from pathlib import Path
from typing import Annotated

import typer

from notation_py.cli.app import policy_app
from notation_py.cli.context import config_dir

# The trust policy modules (cryptography) are imported inside the commands (typer only needs their signatures).


def _policy_path() -> Path:
    cfg = config_dir()
    if not cfg.trust_policy_oci.exists() and cfg.trust_policy_legacy.exists():
        return cfg.trust_policy_legacy
    return cfg.trust_policy_oci


@policy_app.command("import")
def policy_import(
    file: Annotated[Path, typer.Argument(help="OCI trust policy JSON file.")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing policy.")] = False,
) -> None:
    """Validate and install an OCI trust policy."""
    from notation_py.cli.policy_io import import_policy
    from notation_py.policy.document import OCITrustPolicy

    import_policy(OCITrustPolicy, file, config_dir().trust_policy_oci, force)


@policy_app.command("show")
def policy_show() -> None:
    """Print the OCI trust policy."""
    from notation_py.cli.policy_io import show_policy
    from notation_py.policy.document import OCITrustPolicy

    show_policy(OCITrustPolicy, _policy_path())


@policy_app.command("init")
def policy_init(
    name: Annotated[str, typer.Option("--name", help="Statement name.")],
    scopes: Annotated[list[str], typer.Option("--scope", help='Registry scope ("registry/repo" or "*"), repeatable.')],
    trust_stores: Annotated[
        list[str] | None, typer.Option("--trust-store", help='"<type>:<store>", repeatable.')
    ] = None,
    trusted_identities: Annotated[
        list[str] | None, typer.Option("--trusted-identity", help='"x509.subject: <DN>" or "*", repeatable.')
    ] = None,
    level: Annotated[str, typer.Option("--level", help="strict, permissive, audit or skip.")] = "strict",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing policy.")] = False,
) -> None:
    """Create an OCI trust policy with one statement."""
    from notation_py.cli.policy_io import import_policy, init_statement
    from notation_py.policy.document import OCITrustPolicy

    statement = init_statement(name, level, trust_stores or [], trusted_identities or [])
    statement = {"name": statement.pop("name"), "registryScopes": list(scopes), **statement}
    doc = {"version": "1.0", "trustPolicies": [statement]}
    import_policy(OCITrustPolicy, None, config_dir().trust_policy_oci, force, document=doc)
