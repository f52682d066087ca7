"""Shell completion scripts for bash, zsh and fish, as committed under completions/ (regenerate with
`python -m jctl.cli.completions completions/`)."""

from __future__ import annotations

import sys
from pathlib import Path

SHELLS = {"bash": "jctl.bash", "zsh": "_jctl", "fish": "jctl.fish"}


def completion_script(shell: str) -> str:
    from typer._completion_shared import get_completion_script

    return get_completion_script(prog_name="jctl", complete_var="_JCTL_COMPLETE", shell=shell)


def write_all(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for shell, name in SHELLS.items():
        target = directory / name
        target.write_text(completion_script(shell).rstrip("\n") + "\n", encoding="utf-8")
        written.append(target)
    return written


if __name__ == "__main__":
    for path in write_all(Path(sys.argv[1] if len(sys.argv) > 1 else "completions")):
        print(path)
