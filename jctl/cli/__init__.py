"""The jctl command line (Typer): `app` wires the commands; each command module parses flags, calls the core
and renders its answer."""
