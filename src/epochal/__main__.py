"""``python -m epochal``: the command line."""

from epochal.cli import main

raise SystemExit(main())
