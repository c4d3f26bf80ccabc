"""``python -m lambdalab`` runs the command line."""

from lambdalab.cli import main

raise SystemExit(main())
