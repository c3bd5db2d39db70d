"""The typer application object and its sub-command groups (imported by every command module)."""

from __future__ import annotations

import typer

_SETTINGS = {"help_option_names": ["-h", "--help"]}

app = typer.Typer(
    name="notation-py",
    help="Sign and verify OCI artifacts and blobs with Notary Project signatures (notation-compatible).",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings=_SETTINGS,
)
blob_app = typer.Typer(
    help="Sign, verify and inspect signatures of arbitrary files.", no_args_is_help=True, context_settings=_SETTINGS
)
blob_policy_app = typer.Typer(
    help="Manage the blob trust policy (trustpolicy.blob.json).", no_args_is_help=True, context_settings=_SETTINGS
)
cert_app = typer.Typer(help="Manage certificates in the trust store.", no_args_is_help=True, context_settings=_SETTINGS)
key_app = typer.Typer(help="Manage signing keys (signingkeys.json).", no_args_is_help=True, context_settings=_SETTINGS)
policy_app = typer.Typer(
    help="Manage the OCI trust policy (trustpolicy.oci.json).", no_args_is_help=True, context_settings=_SETTINGS
)
plugin_app = typer.Typer(
    help="Manage plugins (notation's plugin protocol).", no_args_is_help=True, context_settings=_SETTINGS
)
tlog_app = typer.Typer(
    help="Transparency log proofs of signatures (notation-py's extension).",
    no_args_is_help=True,
    context_settings=_SETTINGS,
)

app.add_typer(blob_app, name="blob")
blob_app.add_typer(blob_policy_app, name="policy")
app.add_typer(cert_app, name="certificate")
app.add_typer(cert_app, name="cert", hidden=True)
app.add_typer(key_app, name="key")
app.add_typer(policy_app, name="policy")
app.add_typer(tlog_app, name="tlog")
app.add_typer(plugin_app, name="plugin")
