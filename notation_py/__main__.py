"""``python -m notation_py`` runs the CLI."""

from notation_py.cli.main import main

main()
