"""Subcommands of the ``cellucid`` command line, one module each (see :mod:`cellucid.cli`)."""
