"""The ``chromtransfer`` command: every --help renders, errors exit 2 with a message."""

from __future__ import annotations

import json

import pytest

from chromtransfer_lib.cli.main import build_parser, main


def _subcommands() -> list[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return sorted(action.choices)


@pytest.mark.parametrize("command", _subcommands())
def test_every_subcommand_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: chromtransfer " + command)


def test_profile_prints_resolved_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "smoke"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["name"] == "smoke"


def test_bad_profile_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "nonexistent"]) == 2
    assert "unknown profile 'nonexistent'" in capsys.readouterr().err
