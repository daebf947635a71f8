"""``python -m rareflow`` runs the command line."""

from rareflow.cli import main

main()
