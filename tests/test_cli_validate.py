"""`jctl validate` through a real subprocess: exit codes, formats, configuration, NO_COLOR."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import CASES, run_jctl

CLEAN = CASES / "cli" / "clean.journey.yaml"
FINDINGS = CASES / "cli" / "findings.journey.yaml"


def test_clean_file_exits_0():
    result = run_jctl("validate", str(CLEAN))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no problems" in result.stdout


def test_findings_exit_1_with_position_rule_and_caret():
    result = run_jctl("validate", str(FINDINGS))
    assert result.returncode == 1
    assert "[duplicate-key]" in result.stdout
    assert "19:5 error" in result.stdout  # the second `first:` key
    assert "^" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_missing_path_exits_2():
    result = run_jctl("validate", "does/not/exist.journey.yaml")
    assert result.returncode == 2
    assert "no such file" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_format_is_a_usage_error():
    assert run_jctl("validate", "--format", "xml", str(CLEAN)).returncode == 2


def test_json_format(tmp_path):
    result = run_jctl("validate", "--format", "json", str(FINDINGS))
    document = json.loads(result.stdout)
    assert document["files"] == 1
    assert document["summary"]["errors"] >= 1
    assert any(d["rule"] == "duplicate-key" and d["line"] == 19 for d in document["diagnostics"])


def test_sarif_and_github_formats():
    sarif = json.loads(run_jctl("validate", "--format", "sarif", str(FINDINGS)).stdout)
    assert sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1
    github = run_jctl("validate", "--format", "github", str(FINDINGS)).stdout
    assert "::error file=" in github and "title=duplicate-key" in github


def test_directories_are_searched_recursively(tmp_path):
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    shutil.copy(CLEAN, nested / "one.journey.yaml")
    shutil.copy(FINDINGS, tmp_path / "two.journey.yml")
    (tmp_path / "notes.yaml").write_text("not: a spec\n")
    document = json.loads(run_jctl("validate", "--format", "json", str(tmp_path)).stdout)
    assert document["files"] == 2


def test_default_path_is_cwd(tmp_path):
    shutil.copy(CLEAN, tmp_path / "one.journey.yaml")
    result = run_jctl("validate", "--format", "json", cwd=tmp_path)
    assert json.loads(result.stdout)["files"] == 1


def test_strict_turns_warnings_into_failure(tmp_path):
    spec = tmp_path / "warn.journey.yaml"
    spec.write_text(CLEAN.read_text() + "    orphan:\n      type: succeed\n")
    relaxed = run_jctl("validate", "--format", "json", str(spec))
    warnings = json.loads(relaxed.stdout)["summary"]["warnings"]
    assert warnings >= 1 and relaxed.returncode == 0
    assert run_jctl("validate", "--strict", str(spec)).returncode == 1


def test_configuration_disables_and_reclassifies(tmp_path):
    spec = tmp_path / "warn.journey.yaml"
    spec.write_text(CLEAN.read_text() + "    orphan:\n      type: succeed\n")
    (tmp_path / ".jctl.toml").write_text('[severity]\nunreachable-state = "error"\n')
    assert run_jctl("validate", str(spec), cwd=tmp_path).returncode == 1
    (tmp_path / ".jctl.toml").write_text('disable = ["unreachable-state"]\n')
    document = json.loads(run_jctl("validate", "--format", "json", "--strict", str(spec), cwd=tmp_path).stdout)
    assert not [d for d in document["diagnostics"] if d["rule"] == "unreachable-state"]


def test_pyproject_per_path_ignores(tmp_path):
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    shutil.copy(FINDINGS, legacy / "old.journey.yaml")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.jctl.per-path-ignores]\n"legacy/*" = ["duplicate-key"]\n'
    )
    (tmp_path / "new.journey.yaml").write_text(FINDINGS.read_text())
    document = json.loads(run_jctl("validate", "--format", "json", cwd=tmp_path).stdout)
    flagged = {Path(d["file"]).name for d in document["diagnostics"] if d["rule"] == "duplicate-key"}
    assert flagged == {"new.journey.yaml"}


def test_bad_configuration_is_a_usage_error(tmp_path):
    (tmp_path / ".jctl.toml").write_text('disable = ["no-such-rule"]\n')
    shutil.copy(CLEAN, tmp_path / "one.journey.yaml")
    result = run_jctl("validate", cwd=tmp_path)
    assert result.returncode == 2
    assert "no-such-rule" in result.stderr


def test_no_color_means_no_escape_codes():
    result = run_jctl("validate", str(FINDINGS), env={"NO_COLOR": "1", "FORCE_COLOR": "1"})
    assert "\x1b[" not in result.stdout


def test_list_rules_names_every_rule():
    result = run_jctl("validate", "--list-rules", "--format", "json")
    ids = {rule["id"] for rule in json.loads(result.stdout)}
    assert {"yaml-syntax", "duplicate-key", "schema", "unknown-state"} <= ids


def test_version_and_help():
    assert run_jctl("--version").stdout.startswith("jctl ")
    help_text = run_jctl("--help").stdout
    for command in ("validate", "run", "signal", "status", "list", "history", "cancel", "clock", "tick", "worker"):
        assert command in help_text


def test_fifos_and_devices_are_skipped_in_directories_and_refused_by_name(tmp_path):
    """Reading a FIFO blocks forever and /dev/zero never ends: only regular files are read."""
    import os

    shutil.copy(CLEAN, tmp_path / "clean.journey.yaml")
    os.mkfifo(tmp_path / "pipe.journey.yaml")
    (tmp_path / "zero.journey.yaml").symlink_to("/dev/zero")
    result = run_jctl("validate", str(tmp_path), timeout=30)
    assert result.returncode == 0 and "1 file checked" in result.stdout, result.stdout + result.stderr
    for name in ("pipe.journey.yaml", "zero.journey.yaml"):
        result = run_jctl("validate", str(tmp_path / name), timeout=30)
        assert result.returncode == 2 and "not a regular file" in result.stderr, result.stderr


def test_huge_file_is_refused_without_reading_it_all(tmp_path):
    big = tmp_path / "big.journey.yaml"
    with big.open("wb") as handle:  # sparse: 1 GB that costs nothing to write, but seconds to read
        handle.truncate(1 << 30)
    result = run_jctl("validate", "--format", "json", str(big), timeout=30)
    found = json.loads(result.stdout)["diagnostics"]
    assert [d["rule"] for d in found] == ["yaml-syntax"] and "larger than 4 MB" in found[0]["message"]
    assert "larger than 4 MB" in run_jctl("validate", str(big), timeout=30).stdout  # the text renderer too


def test_a_timeout_of_1e300_is_reported_as_out_of_range_not_as_a_string():
    result = run_jctl("validate", str(CASES / "rules" / "timeout-out-of-range.journey.yaml"))
    assert result.returncode == 1
    lines = [line for line in result.stdout.splitlines() if line.lstrip().startswith("22:")]
    assert lines and all("not a string" not in line for line in lines), result.stdout
    assert any("out of range" in line for line in lines)


def test_a_minified_spec_over_the_node_limit_is_reported_without_its_whole_line(tmp_path: Path):
    states = ",".join(f'"s{i}": {{"type": "succeed"}}' for i in range(30000))
    spec = tmp_path / "minified.journey.yaml"
    spec.write_text('{"apiVersion": "v1", "kind": "Journey", "spec": {"start": "s0", "states": {' + states + "}}}")
    result = run_jctl("validate", str(spec))
    assert result.returncode in (1, 2) and "nodes" in result.stdout + result.stderr
    assert max(len(line) for line in (result.stdout + result.stderr).splitlines()) < 400
