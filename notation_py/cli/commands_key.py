"""``key``: the signing key list (``signingkeys.json``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from notation_py.cli.app import key_app
from notation_py.cli.context import config_dir, out, parse_pairs
from notation_py.cli.render import render_table
from notation_py.config.files import KeySuite, SigningKeys
from notation_py.errors import UsageError
from notation_py.keys.local import LocalSigner


@key_app.command("add")
def key_add(
    name: Annotated[str, typer.Argument(help="Key name.")],
    plugin: Annotated[str | None, typer.Option("--plugin", help="Plugin name (plugin keys).")] = None,
    key_id: Annotated[str | None, typer.Option("--id", help="Key id within the plugin.")] = None,
    plugin_config: Annotated[list[str] | None, typer.Option("--plugin-config", help="key=value.")] = None,
    key_path: Annotated[Path | None, typer.Option("--key-path", help="Local private key file (PEM).")] = None,
    cert_path: Annotated[Path | None, typer.Option("--cert-path", help="Certificate chain file, leaf first.")] = None,
    default: Annotated[bool, typer.Option("--default", help="Make it the default key.")] = False,
) -> None:
    """Add a local key (--key-path/--cert-path) or a plugin key (--plugin/--id) to the key list."""
    cfg = config_dir()
    if plugin or key_id:
        if not (plugin and key_id) or key_path or cert_path:
            raise UsageError("a plugin key needs --plugin and --id (and no --key-path/--cert-path)")
        suite = KeySuite(
            name=name, id=key_id, plugin_name=plugin, plugin_config=parse_pairs(plugin_config, "--plugin-config")
        )
    else:
        if not (key_path and cert_path):
            raise UsageError("give --key-path and --cert-path for a local key, or --plugin and --id")
        LocalSigner.from_files(key_path, cert_path)  # the pair must load and match before it is recorded
        suite = KeySuite(name=name, key_path=str(key_path.resolve()), cert_path=str(cert_path.resolve()))
    SigningKeys.load(cfg.signing_keys).add(suite, make_default=default).save(cfg.signing_keys)
    out(name + (" (default)" if default else ""))


@key_app.command("list")
def key_list() -> None:
    """List signing keys; * marks the default."""
    keys = SigningKeys.load(config_dir().signing_keys)
    rows = [
        [
            ("* " if k.name == keys.default else "  ") + k.name,
            k.key_path or "",
            k.cert_path or "",
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
    cfg = config_dir()
    keys = SigningKeys.load(cfg.signing_keys)
    removed = [keys.get(name) for name in names]
    for name in names:
        keys = keys.remove(name)
    keys.save(cfg.signing_keys)
    for suite in removed:
        kept = "" if suite.is_plugin else " (the key and certificate files were kept)"
        out(f"Removed {suite.name} from the signing key list{kept}")
