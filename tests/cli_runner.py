"""Run the netprior CLI in-process, as a user would from the shell: returns (exit status, stdout, stderr)."""

import sys

import pytest

from netprior.cli import main


def run(monkeypatch, capsys, *args):
    monkeypatch.setattr(sys, "argv", ["netprior", *map(str, args)])
    with pytest.raises(SystemExit) as exc:
        main()
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err
