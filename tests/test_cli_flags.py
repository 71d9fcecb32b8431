"""Every CLI command is walked: each flag name has one meaning everywhere, and each command has the flags its kind of
work calls for (the rule is in README.md, "Command-line flags").  A new command must be classified in
KINDS below, so that this test can hold it to the rule."""

from __future__ import annotations

import re

import pytest
import typer.main

from netprior.cli import app

# What each command does: writes files (w), runs a network (n), draws random numbers (r), optimises or trains
# iteratively (o), reads an image named on the command line (i), offers named presets (p).
KINDS = {
    "presets": "", "gan generators": "", "serve": "n",
    "demo": "wnro", "degrade": "wri", "fid": "wnr",
    "restore denoise": "wnroip", "restore jpeg": "wnroip", "restore super-resolve": "wnroip",
    "restore inpaint": "wnroip", "restore flash-no-flash": "wnroip", "restore fit": "wnroip",
    "restore impedance": "wnroip",
    "gan sample": "wnr", "gan invert": "wnroip", "gan inpaint": "wnroip", "gan colorize": "wnroip",
    "gan super-resolve": "wnroip", "gan interpolate": "wnroi", "gan segment": "wnroi",
    "gradcam": "wni", "invert-features": "wnroip",
    "texture optimize": "wnroip", "texture train": "wnroip", "texture sample": "wnr",
    "style optimize": "wnroip", "style train": "wnroip", "style apply": "wnri",
    "imagine synth": "wnroip", "imagine counterfactual": "wnroip", "deepinversion": "wnroip",
    "train dcgan": "wnrop", "data make-default": "wnr",
    "pyramid train": "wnro", "pyramid generate": "wnri", "pyramid repaint": "wnri", "pyramid compose": "wnri",
    "pyramid relabel": "wnri",
    "avatar make-synthetic": "wr", "avatar train": "wnroip", "avatar render": "wn",
    "age train": "wnro", "age sample": "wnr", "age reconstruct": "wni", "age interpolate": "wni",
    "age colorize": "wnri", "translate train": "wnro", "translate apply": "wni",
}
# Flags a command's kind calls for but which it does not take, each with the reason.
EXEMPT = {
    ("demo", "--report"): "the demo always writes its report",
    ("demo", "--checkpoint"): "a fixed, one-minute run of the bundled image",
    ("restore impedance", "--report"): "its output is the figure",
    ("restore impedance", "--checkpoint"): "four short fits compared in one figure",
    ("train dcgan", "--report"): "training always writes its report",
}
RULES = {"w": ("-o",), "n": ("--device",), "r": ("--seed",), "o": ("-q", "--report", "--checkpoint", "--iters"),
         "i": ("--max-side",), "p": ("--preset",)}


def _commands(group, path=()):
    for name, sub in group.commands.items():
        if hasattr(sub, "commands"):
            yield from _commands(sub, (*path, name))
        else:
            yield " ".join((*path, name)), sub


COMMANDS = dict(_commands(typer.main.get_command(app)))


def _options(cmd):
    return {o: p for p in cmd.params for o in p.opts if o.startswith("-")}


def _meaning(help_text: str | None) -> str:
    """A flag's meaning: its help up to the first '(', '.', ':' or ';' (the rest may add command specifics)."""
    return re.split(r"[(.:;]", help_text or "", maxsplit=1)[0].strip()


def test_every_command_is_classified():
    single = {n for n in COMMANDS if not n.startswith("batch ")}
    assert single == set(KINDS), "classify new commands in KINDS (and remove gone ones)"


@pytest.mark.parametrize("name", sorted(KINDS))
def test_command_has_the_flags_of_its_kind(name):
    opts = _options(COMMANDS[name])
    missing = [flag for kind in KINDS[name] for flag in RULES[kind]
               if flag not in opts and (name, flag) not in EXEMPT and not (flag == "-o" and "--output-dir" in opts)]
    assert not missing, f"`netprior {name}` lacks {missing}"
    if "--device" in opts:
        assert opts["--device"].default == "auto", f"`netprior {name} --device` must default to auto"


def test_each_flag_name_has_one_meaning():
    meanings: dict[str, dict[str, list[str]]] = {}
    shorts: dict[str, set[frozenset[str]]] = {}
    for name, cmd in COMMANDS.items():
        for p in cmd.params:
            longs = [o for o in p.opts if o.startswith("--")]
            for o in longs:
                meanings.setdefault(o, {}).setdefault(_meaning(getattr(p, "help", None)), []).append(name)
            for o in p.opts:
                if o.startswith("-") and not o.startswith("--"):
                    shorts.setdefault(o, set()).add(frozenset(longs))
    # a short flag abbreviates one long flag everywhere (-o: a file, or a folder where a command writes several)
    assert {k: v for k, v in shorts.items() if len(v) > 1} == {"-o": {frozenset({"--output"}),
                                                                      frozenset({"--output-dir"})}}
    clashes = {o: m for o, m in meanings.items() if len(m) > 1}
    assert not clashes, "flags with several meanings: " + "; ".join(
        f"{o}: " + " | ".join(f"{k!r} ({', '.join(v[:3])})" for k, v in m.items()) for o, m in clashes.items())


def test_batch_commands_mirror_their_single_image_command():
    for name, cmd in COMMANDS.items():
        if name.startswith("batch "):
            single = _options(COMMANDS[name.removeprefix("batch ")])
            mine = _options(cmd)
            assert {o for o in single if o not in ("-o", "--output", "--reference", "--checkpoint")} <= set(mine)
