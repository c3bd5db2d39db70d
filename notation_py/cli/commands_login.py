"""``login`` and ``logout``: registry credentials kept the way notation keeps them."""

# No ``from __future__ import annotations`` in the command modules: typer evaluates every command's
# annotations each time the CLI starts, and from strings (eval and compile of each) that took three times
# as long. Modules a command needs are imported inside it (docs/performance.md, "CLI start-up").

import getpass
import os
import sys
from typing import Annotated

import typer

from notation_py.cli.app import app
from notation_py.cli.context import RemoteFlags, config_dir, out, registry_client, warn
from notation_py.errors import UsageError


@app.command("login")
def login_command(
    server: Annotated[str, typer.Argument(help="Registry host, e.g. registry.example.com or localhost:5000.")],
    username: Annotated[str | None, typer.Option("--username", "-u", help="User name.")] = None,
    password: Annotated[
        str | None, typer.Option("--password", "-p", help="Password (prefer --password-stdin).")
    ] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
    insecure_registry: Annotated[bool, typer.Option("--insecure-registry", help="Use plain HTTP.")] = False,
) -> None:
    """Check credentials against a registry and save them for later commands."""
    from notation_py.oci.registry import Credential, DefaultCredentials

    from_flag = password is not None and not password_stdin
    if password_stdin:
        if password is not None:
            raise UsageError("--password and --password-stdin are mutually exclusive")
        password = sys.stdin.readline().rstrip("\r\n")
    # Like notation: flags first, then NOTATION_USERNAME / NOTATION_PASSWORD.
    username = username or os.environ.get("NOTATION_USERNAME") or None
    if password is None:
        password = os.environ.get("NOTATION_PASSWORD") or None
    if username and not password and sys.stdin.isatty():
        password = getpass.getpass("Password: ")
    if not password:
        raise UsageError("a password (or an identity token) is required: use --password-stdin or NOTATION_PASSWORD")
    if "/" in server or "@" in server:
        raise UsageError(f'"{server}" is not a registry host name')
    if from_flag:
        warn("Using --password via the CLI is insecure. Use --password-stdin.")
    credential = (
        Credential(username=username or "", password=password or "")
        if username
        else Credential(refresh_token=password or "")
    )
    remote = RemoteFlags(insecure_registry=insecure_registry, username=username, password=password)
    with registry_client(server, remote) as client:
        client.ping(server)  # raises with the registry's own message if the credentials are refused
    plaintext = DefaultCredentials(config_dir()).store(server, credential)
    if plaintext:
        warn(f"the credentials are stored unencrypted in {config_dir().config_json}; configure a credential helper")
    out("Login Succeeded")


@app.command("logout")
def logout_command(server: Annotated[str, typer.Argument(help="Registry host.")]) -> None:
    """Remove saved credentials of a registry."""
    from notation_py.oci.registry import DefaultCredentials

    if not DefaultCredentials(config_dir()).erase(server):
        warn(f"no saved credentials for {server}")
    out("Logout Succeeded")
