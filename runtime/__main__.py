"""`python -m runtime` runs the command line."""

from runtime.cli import main

raise SystemExit(main())
