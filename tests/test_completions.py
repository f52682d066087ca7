from __future__ import annotations

from conftest import REPO

from jctl.cli.completions import SHELLS, completion_script


def test_committed_completions_are_current():
    for shell, name in SHELLS.items():
        committed = (REPO / "completions" / name).read_text(encoding="utf-8")
        assert committed == completion_script(shell).rstrip("\n") + "\n", f"regenerate completions/{name}"


def test_completion_scripts_name_jctl():
    assert "complete -o default -F _jctl_completion jctl" in completion_script("bash")
    assert "#compdef jctl" in completion_script("zsh")
    assert "complete --command jctl" in completion_script("fish")
