"""``plugin list``: the plugins installed under ``{NOTATION_CONFIG}/plugins`` (or ``$NOTATION_LIBEXEC/plugins``)."""

# No ``from __future__ import annotations`` in the command modules: typer evaluates every command's
# annotations each time the CLI starts, and from strings (eval and compile of each) that took three times
# as long. Modules a command needs are imported inside it (docs/performance.md, "CLI start-up").

from notation_py.cli.app import plugin_app
from notation_py.cli.context import config_dir, out


@plugin_app.command("list")
def plugin_list() -> None:
    """List installed plugins with their metadata (as notation's ``plugin ls``)."""
    from notation_py.cli.render import render_table
    from notation_py.plugins import list_plugins, plugin_directory

    rows: list[list[str]] = []
    for listing in list_plugins(plugin_directory(config_dir())):
        meta = listing.metadata
        if meta is None:
            rows.append([listing.name, "", "", "", listing.error or ""])
        else:
            capabilities = "[" + " ".join(meta.capabilities) + "]"
            rows.append([listing.name, meta.description, meta.version, capabilities, ""])
    out(render_table(["NAME", "DESCRIPTION", "VERSION", "CAPABILITIES", "ERROR"], rows))


plugin_app.command("ls", hidden=True)(plugin_list)
