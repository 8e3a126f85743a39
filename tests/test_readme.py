"""The README says what the code does: its command-line summary against the argparse
parser, its ``autorec`` commands against the parser, and its Python quickstart run.

The command-line checks go both ways: every subcommand and flag the README's summary
names exists (with the same choices, metavars and required-ness), and every subcommand
and option of the parser is in the summary, so neither side can drift silently.

The quickstart runs verbatim (``exec`` of the README's ``python`` block) against a small
synthetic MovieLens-format folder in ``$AUTOREC_DATA_HOME``, so it goes through the real
loader without the real data; a second run on the real MovieLens-1M is ``realdata``. In
both, training is capped at a few epochs (``AutoEncoderRecommender.fit`` is wrapped to
lower ``epochs``; the README's default would train up to 200) to keep this file fast.
"""

from __future__ import annotations

import argparse
import ast
import re
import shlex
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autorec import AutoEncoderRecommender
from autorec._config import planned_epochs
from autorec.cli import build_parser
from autorec.datasets import make_ratings

README = Path(__file__).resolve().parents[1] / "README.md"
FLAG = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")
HELP = {"-h", "--help"}


# ------------------------------------------------------------------------ README
def _readme() -> str:
    assert README.is_file(), f"{README} is missing (the sdist must ship it)"
    return README.read_text(encoding="utf-8")


def _section(title: str) -> str:
    """The text of the README's ``## title`` section (up to the next ``## ``)."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", _readme(), re.M | re.S)
    assert match, f"README.md has no '## {title}' section"
    return match.group(1)


def _blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", text, re.M | re.S)


def _summary() -> tuple[dict[str, str], str]:
    """The README's command-line summary: ({subcommand: its usage text}, global options)."""
    blocks = _blocks(_section("Command line"), "text")
    assert len(blocks) == 1, "expected one ```text block (the summary) under '## Command line'"
    usages: dict[str, str] = {}
    global_line = None
    current = None
    for line in blocks[0].splitlines():
        if line.startswith("autorec "):
            current = line.split()[1]
            assert current not in usages, f"subcommand {current} listed twice"
            usages[current] = line[len("autorec ") + len(current) :]
        elif line.startswith("global options:"):
            global_line, current = line[len("global options:") :], None
        elif line.startswith(" ") and current is not None:
            usages[current] += " " + line.strip()
        elif line.strip():
            pytest.fail(f"unexpected line in the README's command-line summary: {line!r}")
    assert usages, "the README's command-line summary lists no subcommand"
    assert global_line is not None, "the README's command-line summary has no global options"
    return usages, global_line


def _without_brackets(usage: str) -> str:
    """``usage`` with every ``[...]`` group (nested ones too) removed: what is required."""
    while True:
        stripped = re.sub(r"\[[^\[\]]*\]", " ", usage)
        if stripped == usage:
            return usage
        usage = stripped


# ------------------------------------------------------------------------ parser
def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {flag: a for a in parser._actions for flag in a.option_strings if flag not in HELP}


def _argument(action: argparse.Action) -> str | None:
    """How a usage line shows the option's argument: None for a flag without one."""
    if action.nargs == 0:
        return None
    if action.choices is not None:
        return "|".join(map(str, action.choices))
    return action.metavar or action.dest.upper()


@pytest.fixture(scope="module")
def parser() -> argparse.ArgumentParser:
    return build_parser()


# ------------------------------------------------------------- CLI summary tests
def test_the_summary_lists_exactly_the_parsers_subcommands(parser):
    usages, _ = _summary()
    assert sorted(usages) == sorted(_subcommands(parser))


def test_every_flag_in_the_summary_exists_with_its_argument(parser):
    """README -> parser: each flag of a subcommand's usage exists for that subcommand, and
    is shown with the parser's metavar or choices (or with no argument when it takes none);
    each global option exists on the top-level parser."""
    usages, global_line = _summary()
    subcommands = _subcommands(parser)
    problems = []
    for name, usage in usages.items():
        options = _options(subcommands[name]) if name in subcommands else {}
        tokens = usage.replace("[", " ").replace("]", " ").split()
        for i, token in enumerate(tokens):
            if not FLAG.fullmatch(token):
                continue
            if token not in options:
                problems.append(
                    f"autorec {name}: README names {token}, the parser has no such option"
                )
                continue
            shown = tokens[i + 1] if i + 1 < len(tokens) and tokens[i + 1] != "..." else None
            if shown is not None and FLAG.fullmatch(shown):
                shown = None
            expected = _argument(options[token])
            if shown != expected:
                problems.append(
                    f"autorec {name} {token}: README shows argument {shown!r}, "
                    f"the parser takes {expected!r}"
                )
    top = _options(parser)
    problems += [
        f"global option {flag}: not an option of the parser"
        for flag in FLAG.findall(global_line)
        if flag not in top
    ]
    assert not problems, "\n".join(problems)


def test_every_parser_option_is_in_the_summary(parser):
    """parser -> README: each option of each subcommand is in that subcommand's usage,
    except the global options (accepted by every subcommand), which must be on the
    'global options' line, as must every option of the top-level parser."""
    usages, global_line = _summary()
    global_flags = set(FLAG.findall(global_line))
    problems = [
        f"top-level option {flag}: missing from 'global options'"
        for flag in _options(parser)
        if flag not in global_flags
    ]
    for name, sub in _subcommands(parser).items():
        named = set(FLAG.findall(usages.get(name, "")))
        problems += [
            f"autorec {name} {flag}: missing from the README's summary"
            for flag in _options(sub)
            if flag not in named and flag not in global_flags
        ]
    assert not problems, "\n".join(problems)


def test_the_summary_brackets_exactly_the_optional_flags(parser):
    """A flag outside ``[...]`` in the README is one the parser requires, and vice versa."""
    usages, _ = _summary()
    for name, sub in _subcommands(parser).items():
        required = {f for a in sub._actions if a.required for f in a.option_strings}
        shown = set(FLAG.findall(_without_brackets(usages.get(name, ""))))
        assert shown == required, f"autorec {name}: README requires {shown}, parser {required}"


def _commands_in_readme() -> list[tuple[str, list[str]]]:
    """Every ``autorec ...`` command of the README's bash blocks, as (text, argv)."""
    found = []
    for block in _blocks(_readme(), "bash"):
        for line in block.splitlines():
            for part in re.split(r"&&|\|\||;|\|", line.split(" # ")[0]):
                words = shlex.split(part)
                while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", words[0]):
                    words.pop(0)  # VAR=value prefixes
                if words and words[0] == "autorec":
                    found.append((part.strip(), words[1:]))
    return found


def test_every_autorec_command_in_the_readme_parses(parser):
    commands = _commands_in_readme()
    assert len(commands) >= 5, commands  # the main job and the reproduce block
    for text, argv in commands:
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:
            pytest.fail(f"README command {text!r} is rejected by the parser (exit {exc.code})")
        assert args.command is not None, text


def test_inline_autorec_commands_name_real_options(parser):
    """`autorec sub --flag ...` fragments in the README's prose (which may omit values):
    the subcommand and each flag exist."""
    subcommands = _subcommands(parser)
    fragments = re.findall(r"`autorec ([a-z]+)([^`]*)`", _readme())
    assert fragments
    for name, rest in fragments:
        assert name in subcommands, f"README mentions `autorec {name}`: no such subcommand"
        options = _options(subcommands[name])
        for flag in FLAG.findall(rest):
            assert flag in options, f"README mentions `autorec {name} ... {flag}`: no such option"


def test_the_summary_checks_can_fail():
    """The helpers see flags, arguments and brackets (so the tests above are not vacuous)."""
    assert FLAG.findall("[--kind user|item] -k K [-q/--quiet] --user ID") == [
        "--kind",
        "-k",
        "-q",
        "--quiet",
        "--user",
    ]
    assert FLAG.findall("user-id top-k 2-3") == []
    assert _without_brackets("--user ID [--user ID ...] [-k K [--x]]").split() == ["--user", "ID"]


# ------------------------------------------------------------------- quickstart
# The quickstart's fold-in example rates these movies; the synthetic copy has them.
QUICKSTART_ITEMS = (1, 260, 1270, 2571, 527)
QUICKSTART_USER = 8
EPOCH_CAP = 3
TITLE = "Synthetic Movie {} With A Deliberately Long Title To Catch Truncation ({})"


def _quickstart() -> str:
    blocks = _blocks(_section("Quickstart"), "python")
    assert len(blocks) == 1, "expected one ```python block under '## Quickstart'"
    return blocks[0]


def _write_tiny_movielens(home: Path) -> pd.DataFrame:
    """An extracted ``ml-1m/`` of 300 users and 200 movies; the quickstart's five movies
    are the five most rated. Titles are longer than pandas' 50-character column width,
    so a frame printed without ``to_string()`` would show them cut with '...'."""
    ratings = make_ratings(n_users=300, n_items=200, n_ratings=9000, random_state=0)
    by_count = ratings["item_id"].value_counts().index.to_numpy()
    others = (i for i in range(2, 10_000, 13) if i not in QUICKSTART_ITEMS)
    new_id = {int(item): next(others) for item in range(1, 201)}
    new_id.update({int(item): m for item, m in zip(by_count, QUICKSTART_ITEMS, strict=False)})
    ratings["item_id"] = ratings["item_id"].map(new_id)
    ml = home / "ml-1m"
    ml.mkdir(parents=True)
    lines = [
        f"{u}::{i}::{int(r)}::{978_300_000 + n}"
        for n, (u, i, r) in enumerate(
            ratings[["user_id", "item_id", "rating"]].itertuples(index=False)
        )
    ]
    (ml / "ratings.dat").write_text("\n".join(lines) + "\n")
    movies = [f"{m}::{TITLE.format(m, 1950 + m % 50)}::Comedy|Drama" for m in new_id.values()]
    (ml / "movies.dat").write_bytes(("\n".join(movies) + "\n").encode("latin-1"))
    return ratings


def _elided(frame_text: str) -> bool:
    """Whether ``frame_text`` (a printed frame) has pandas' marks of what it left out: a
    cell cut with '...', a '...' column, a '..' row, or the '[N rows x M columns]' footer."""
    if re.search(r"^\[\d+ rows x \d+ columns\]$", frame_text, re.M):
        return True
    return any(
        token in {"..", "..."} or token.endswith("...")
        for line in frame_text.splitlines()
        for token in line.split()
    )


def _run_quickstart(monkeypatch, capsys, home: Path, workdir: Path) -> tuple[str, list, dict]:
    """exec the README's quickstart with ``$AUTOREC_DATA_HOME=home`` in ``workdir``:
    (stdout, the frames ``recommend`` returned with its arguments, the namespace)."""
    monkeypatch.setenv("AUTOREC_DATA_HOME", str(home))
    monkeypatch.chdir(workdir)
    fit, recommend = AutoEncoderRecommender.fit, AutoEncoderRecommender.recommend

    def capped_fit(self, *args, **kwargs):
        self.set_params(epochs=min(planned_epochs(self), EPOCH_CAP))
        return fit(self, *args, **kwargs)

    calls = []

    def recording_recommend(self, *args, **kwargs):
        frame = recommend(self, *args, **kwargs)
        calls.append((args, kwargs, frame))
        return frame

    monkeypatch.setattr(AutoEncoderRecommender, "fit", capped_fit)
    monkeypatch.setattr(AutoEncoderRecommender, "recommend", recording_recommend)
    namespace: dict = {"__name__": "__readme__"}
    exec(compile(_quickstart(), f"{README}:Quickstart", "exec"), namespace)
    return capsys.readouterr().out, calls, namespace


def _check_quickstart(out: str, calls: list, namespace: dict, workdir: Path) -> None:
    # Two recommend calls: user 8's top 5, then the new user's top 10.
    assert [(c[0][:1], c[1].get("k")) for c in calls] == [((QUICKSTART_USER,), 5), ((None,), 10)]
    columns = namespace["columns"]
    rest = out
    for _, kwargs, frame in calls:
        assert len(frame) == kwargs["k"]
        # Printed in full: header, every row, every title whole (no '...' from pandas).
        text = frame[columns].to_string()
        assert text in out, f"recommendations not printed in full; printed:\n{out}"
        rest = rest.replace(text, "")
    assert not _elided(rest), f"a printed frame was cut short; printed:\n{out}"
    seen = set(namespace["train"].query("user_id == @QUICKSTART_USER")["item_id"])
    assert not seen & set(calls[0][2]["item_id"]), "recommend returned movies user 8 rated"
    assert not set(namespace["me"]) & set(calls[1][2]["item_id"]), "returned the new user's"
    # print(rating_scores(...)): the dict; print(evaluate_ranking(...)["ndcg@10"]): a float.
    (scores,) = (ast.literal_eval(line) for line in out.splitlines() if line.startswith("{"))
    assert set(scores) == {"rmse_train", "rmse_test", "top_k_accuracy"}
    assert 0 < scores["rmse_test"] < 4 and set(scores["top_k_accuracy"]) == {5, 10}
    (ndcg,) = (float(s) for s in out.splitlines() if re.fullmatch(r"\d\.\d+(e-\d+)?", s))
    assert 0 <= ndcg <= 1
    # model.save / load: the file is there and the loaded model is a fitted one.
    assert (workdir / "model.safetensors").is_file()
    loaded = namespace["model"]
    assert isinstance(loaded, AutoEncoderRecommender)
    assert hasattr(loaded, "module_")


@pytest.mark.usefixtures("one_torch_thread")
def test_the_quickstart_runs_and_prints_whole_frames(monkeypatch, capsys, tmp_path):
    home = tmp_path / "data"
    ratings = _write_tiny_movielens(home)
    out, calls, namespace = _run_quickstart(monkeypatch, capsys, home, tmp_path)
    _check_quickstart(out, calls, namespace, tmp_path)
    assert len(namespace["data"].ratings) == len(ratings)  # it read the synthetic copy
    assert "..." not in out  # no synthetic title has dots: any '...' is pandas cutting
    # The loaded model trained under the cap (the cap is what keeps this fast).
    assert 1 <= len(namespace["model"].history_["train_rmse"]) <= EPOCH_CAP


def test_truncated_frames_are_detected():
    """The elision check fires on what ``print(frame)`` does to long titles and wide frames."""
    frame = pd.DataFrame({"title": [TITLE.format(1, 2000)], "n_ratings": [3]})
    with pd.option_context("display.max_colwidth", 50):
        assert _elided(repr(frame))
    assert not _elided(frame.to_string())
    wide = pd.DataFrame(np.zeros((2, 40)))
    with pd.option_context("display.max_columns", 20):
        assert _elided(repr(wide))
    with pd.option_context("display.max_rows", 10):
        assert _elided(repr(pd.DataFrame({"a": range(100)})))


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.usefixtures("one_torch_thread")
def test_the_quickstart_on_the_real_movielens(monkeypatch, capsys, tmp_path, movielens_home):
    out, calls, namespace = _run_quickstart(monkeypatch, capsys, movielens_home, tmp_path)
    _check_quickstart(out, calls, namespace, tmp_path)
    assert len(namespace["data"].ratings) == 1_000_209
    assert len(namespace["train"]) == 750_121
