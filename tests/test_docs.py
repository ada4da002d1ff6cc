"""The pages say what is true: every link and image resolves, every --flag exists, every shell block is run by a test
or marked as an illustration (its mxgan commands still parse), and every speed or quality figure names its machine
and date and equals the results file under bench/results/ it comes from. No training: argparse, files and one
--dry-run. The markers are described in CONTRIBUTING.md."""

from __future__ import annotations

import ast
import contextlib
import io
import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest
from helpers import REPO, run_main

from mxgan.bench.results import RESULTS_FLAGS

# the pages a newcomer reads; docs/options.md is generated from --help (tests/test_readme.py keeps it whole)
PAGES = sorted({REPO / "README.md", REPO / "CONTRIBUTING.md", REPO / "bench" / "README.md",
                REPO / "data" / "README.md", *(REPO / "docs").glob("*.md")})
WRITTEN = [page for page in PAGES if page.name != "options.md" or page.parent.name != "docs"]
# pages whose shell blocks must be run by a test or marked as an illustration
SHELL_PAGES = [REPO / "README.md", REPO / "CONTRIBUTING.md", *(p for p in WRITTEN if p.parent == REPO / "docs")]
RESULTS = REPO / "bench" / "results"

# flags the pages mention that belong to other programs (mxgan's own come from its parsers)
OTHER_PROGRAMS_FLAGS = {
    "--no-deps",  # pip install --no-deps onnxruntime==1.16.3 (its numpy pin cannot resolve beside MXNet's)
    "--launcher",  # MXNet's own tools/launch.py, for several machines (docs/scale-out.md)
    "--signal",  # Slurm's sbatch --signal=USR1@120 (docs/run-folders.md)
    "--update",  # python tests/test_readme.py --update, which regenerates docs/options.md
}
# programs whose arguments may name mxgan without being its command line (mypy mxgan): not parsed as mxgan's
NOT_PARSED = {"python3.11", "ruff", "mypy", ".", "source", "cd", "export", "git"}
SHELL_LANGUAGES = {"bash", "sh", "shell", "console"}
MARKERS = ("test-commands", "dry-run", "illustration")
FIGURES = re.compile(r"^[ \t]*<!-- figures: (.*?) -->\n(.*?)^[ \t]*<!-- /figures -->$", re.S | re.M)
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)


def rel(page: Path) -> str:
    return str(page.relative_to(REPO))


def tracked() -> set[str] | None:
    """The files git tracks (a fresh clone holds exactly these), or None outside a git checkout."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return set(listed.decode().split("\0")) - {""}


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text())
    return {slug(m) for m in re.findall(r"^#+ (.*)$", text, re.M)}


def without_code(text: str) -> str:
    """The page's prose: fenced blocks, inline code and HTML comments taken out."""
    text = FENCE.sub("", text)
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    return re.sub(r"`[^`\n]*`", "", text)


# ---------------------------------------------------------------------------------------------------------------
# links, images and paths


def links(text: str) -> list[str]:
    text = FENCE.sub("", text)
    text = re.sub(r"`[^`\n]*`", "", text)
    found = re.findall(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", text)
    found += re.findall(r"^\s*\[[^\]]+\]:\s*(\S+)", text, re.M)
    found += re.findall(r"<img [^>]*src=\"([^\"]+)\"", text)
    return found


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_every_link_and_image_resolves_to_a_file_in_the_repository(page):
    files, broken = tracked(), []
    for target in links(page.read_text()):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        path_part, _, anchor = target.partition("#")
        path = (page.parent / path_part).resolve() if path_part else page
        inside = path.is_relative_to(REPO)
        name = str(path.relative_to(REPO)) if inside else str(path)
        if not inside or not path.exists():
            broken.append(f"{target}: no such file")
        elif files is not None and path.is_file() and name not in files:
            broken.append(f"{target}: not in git (a fresh clone would not have it)")
        elif anchor and path.suffix == ".md" and anchor not in anchors(path):
            broken.append(f"{target}: {name} has no heading #{anchor}")
    assert not broken, f"{rel(page)}: " + "; ".join(broken)


REPO_FILE = re.compile(r"^(?:docs|bench|tests|mxgan|data|\.ci)/[\w./-]*\.(?:md|png|gif|py|json|jsonl|params|toml|txt)$")


@pytest.mark.parametrize("page", WRITTEN, ids=rel)
def test_every_repository_file_named_in_code_exists(page):
    """A file of the repository named as `docs/x.png` or `bench/quality.py` (not a link) exists too."""
    named = {token for token in re.findall(r"`([^`\s]+)`", page.read_text()) if REPO_FILE.match(token)}
    missing = sorted(token for token in named if not (REPO / token).exists())
    assert not missing, f"{rel(page)} names files that do not exist: {missing}"


# ---------------------------------------------------------------------------------------------------------------
# flags


def mxgan_flags() -> dict[str, set[str]]:
    """Every flag of every mxgan command, from the declarations through argparse (no MXNet loaded)."""
    import argparse

    from mxgan.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {name: set(sub._option_string_actions) for name, sub in commands.choices.items()}


def script_flags(script: Path) -> set[str]:
    """The flags a bench script declares (``add_argument("--x", ...)``, and ``--json`` where its parser is
    :func:`mxgan.bench.results.results_parser`'s), read from its source, not by running it."""
    flags = {"-h", "--help"}
    for node in ast.walk(ast.parse(script.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument":
            flags |= {a.value for a in node.args if isinstance(a, ast.Constant) and str(a.value).startswith("-")}
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "results_parser":
            flags |= set(RESULTS_FLAGS)
    return flags


def all_flags() -> set[str]:
    flags = set().union(*mxgan_flags().values())
    for script in (REPO / "bench").glob("*.py"):
        flags |= script_flags(script)
    return flags | OTHER_PROGRAMS_FLAGS


@pytest.mark.parametrize("page", WRITTEN, ids=rel)
def test_every_flag_mentioned_exists(page):
    known = all_flags()
    mentioned = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", page.read_text()))
    unknown = sorted(mentioned - known)
    assert not unknown, (f"{rel(page)} mentions flags no mxgan command or bench script has: {unknown} (another "
                         "program's flag: OTHER_PROGRAMS_FLAGS in tests/test_docs.py, with a comment)")


# ---------------------------------------------------------------------------------------------------------------
# shell blocks


def shell_blocks(page: Path) -> list[tuple[str, str, int]]:
    """Each shell block of a page: (the marker comment right before it, or "", its text, its line)."""
    text, found = page.read_text(), []
    for match in FENCE.finditer(text):
        if match.group(1) not in SHELL_LANGUAGES:
            continue
        before = text[:match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = re.fullmatch(r"<!-- ([\w-]+)\b.*-->", before.strip())
        found.append((marker.group(1) if marker else "", match.group(2), text[:match.start()].count("\n") + 1))
    return found


@pytest.mark.parametrize("page", SHELL_PAGES, ids=rel)
def test_every_shell_block_is_run_by_a_test_or_marked_as_an_illustration(page):
    unmarked = [f"line {line} ({marker or 'no marker'})" for marker, _, line in shell_blocks(page)
                if marker not in MARKERS]
    assert not unmarked, (f"{rel(page)}: shell blocks neither tested nor marked: {', '.join(unmarked)}; put one of "
                          + ", ".join(f"<!-- {m} -->" for m in MARKERS) + " on the line before (CONTRIBUTING.md)")


def command_lines(block: str) -> list[str]:
    """The commands of a shell block or of a text block's ``$ `` lines: continuations joined, comments gone, split
    at ``&&``, ``||``, ``;`` and ``|``."""
    joined = re.sub(r"\\\n\s*", " ", block)
    commands = []
    for line in joined.splitlines():
        line = line.strip()
        if line.startswith("$ "):
            line = line[2:]
        if not line or line.startswith("#"):
            continue
        words = shlex.split(line, comments=True)
        current: list[str] = []
        for word in words + ["&&"]:
            if word in ("&&", "||", ";", "|"):
                if current:
                    commands.append(shlex.join(current))
                current = []
            else:
                current.append(word)
    return commands


def parse_mxgan(argv: list[str]) -> str | None:
    """argparse's complaint about an mxgan command line, or None when it parses."""
    from mxgan.cli import build_parser

    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            args = build_parser().parse_args(argv)
    except SystemExit:
        return err.getvalue().strip() or "does not parse"
    if args.command == "launch" and "--" in argv:  # the workers' train flags
        return parse_mxgan(["train", *argv[argv.index("--") + 1:]])
    return None


def command_problem(command: str) -> str | None:
    """What is wrong with one command a page shows: an mxgan command that does not parse, a bench script that
    does not exist or lacks a flag, an extra pyproject.toml does not declare; None when nothing is."""
    words = shlex.split(command)
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):  # VAR=value before the program
        words = words[1:]
    if not words:
        return None
    for i, word in enumerate(words):  # also inside another launcher: ... mxgan train ...
        if word == "mxgan":
            return parse_mxgan(words[i + 1:])
        if word.endswith("run_dcgan.py"):
            return parse_mxgan(["train", *words[i + 1:]])
        if word == "-m" and words[i + 1:i + 2] == ["mxgan"]:
            return parse_mxgan(words[i + 2:])
    if words[0] in ("python", "python3") and len(words) > 1 and words[1].startswith("bench/"):
        script = REPO / words[1]
        if not script.is_file():
            return f"{words[1]} does not exist"
        if script.name == "throughput.py":
            return parse_mxgan(["bench", *words[2:]])
        own = words[2:]
        if "--flags" in own:  # bench/quality.py --flags ...: the rest of the line is train's flags
            at = own.index("--flags") + 1
            own, passed_on = own[:at], own[at:]
            problem = parse_mxgan(["train", *passed_on])
            if problem:
                return problem
        unknown = [w.split("=")[0] for w in own if w.startswith("-") and w.split("=")[0] not in script_flags(script)]
        return f"{words[1]} has no {', '.join(unknown)}" if unknown else None
    if words[:2] == ["pip", "install"]:
        declared = extras()
        for word in words:
            asked = re.fullmatch(r"[.\w/-]*\[([\w,-]+)\]", word)
            unknown = [e for e in (asked.group(1).split(",") if asked else []) if e not in declared]
            if unknown:
                return f"pyproject.toml declares no extra {', '.join(unknown)}"
    return None


def extras() -> set[str]:
    """The extras pyproject.toml declares (read by hand: Python 3.10 has no tomllib)."""
    section = (REPO / "pyproject.toml").read_text().split("[project.optional-dependencies]")[1].split("\n[")[0]
    return set(re.findall(r"^([\w-]+) = \[", section, re.M))


@pytest.mark.parametrize("page", WRITTEN, ids=rel)
def test_every_command_a_page_shows_still_parses(page):
    """Every mxgan command of a shell block, and every ``$ `` line of an output block, parses with mxgan's own
    parser (flags, choices, required arguments); bench scripts and pip extras exist."""
    text, problems = page.read_text(), []
    for match in FENCE.finditer(text):
        language, block = match.groups()
        if language in SHELL_LANGUAGES:
            commands = command_lines(block)
        elif language == "text":
            commands = command_lines("\n".join(line for line in block.splitlines() if line.startswith("$ ")))
        else:
            continue
        for command in commands:
            if shlex.split(command)[0] in NOT_PARSED:
                continue
            problem = command_problem(command)
            if problem:
                problems.append(f"{command}: {problem}")
    assert not problems, f"{rel(page)}:\n" + "\n".join(problems)


@pytest.mark.parametrize("page", WRITTEN, ids=rel)
def test_every_extra_a_page_names_is_declared(page):
    """"the `plot` extra" and '.[cpu,plot]' anywhere on a page, code included, name extras pyproject.toml has."""
    text = page.read_text()
    named = set(re.findall(r"the `([\w-]+)` extra", text))
    for group in re.findall(r"\.\[([\w,-]+)\]", text):
        named |= set(group.split(","))
    unknown = sorted(named - extras())
    assert not unknown, f"{rel(page)} names extras pyproject.toml does not declare: {unknown}"


@pytest.mark.parametrize("page", SHELL_PAGES, ids=rel)
def test_dry_run_blocks_start_their_training_command(page, tmp_path):
    """A block marked dry-run: each of its training commands, as it stands plus --dry-run, is accepted."""
    for marker, block, line in shell_blocks(page):
        if marker != "dry-run":
            continue
        trains = [shlex.split(c) for c in command_lines(block)
                  if "run_dcgan.py" in c or shlex.split(c)[:2] == ["mxgan", "train"]]
        assert trains, f"{rel(page)} line {line}: a dry-run block without a training command"
        for words in trains:
            args = words[words.index("run_dcgan.py") + 1:] if "run_dcgan.py" in words else words[2:]
            result = run_main("run_dcgan.py", *args, "--dry-run", "--out", str(tmp_path / "run"))
            assert result.returncode == 0, f"{rel(page)} line {line}: {shlex.join(words)}: {result.stderr}"
            assert "would write the run folder" in result.stdout


# ---------------------------------------------------------------------------------------------------------------
# figures

NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?")
# what a speed or quality figure looks like in prose; outside a figures region each is a figure without a source
FIGURE_PATTERNS = [
    r"\d+(?:\.\d+)?\s*(?:images/s|img/s|GFLOP/s|s/step|ms/step|s a step)",
    r"\d+(?:\.\d+)?\s*(?:min|minutes|hours|h)\b",
    r"(?<![\w.])\d+(?:\.\d+)?x\b",
    r"FID(?:-MNIST)?\s+\d+\.\d+",
    r"\d+\.\d+%",
    r"(?:confidence|precision|recall|coverage|density|agreement)\s+0\.\d+",
]


def results_file(name: str) -> dict:
    path = REPO / name
    assert path.parent == RESULTS and path.suffix == ".json", f"{name}: a figure's source is a bench/results/*.json"
    assert path.is_file(), f"{name} does not exist"
    data = json.loads(path.read_text())
    for key in ("machine", "date", "source", "commands"):
        assert isinstance(data.get(key), (str, list)) and data[key], f"{name} lacks its {key}"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", data["date"]), f"{name}: date {data['date']!r} is not YYYY-MM-DD"
    return data


def strings(value) -> list[str]:
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [str(k), *strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return [str(value)]


def printed_lines(data: dict) -> set[str]:
    return {line.rstrip() for run in data.get("printed", []) for line in run["output"]}


def commands_of(data: dict) -> set[str]:
    return set(data["commands"]) | {run["command"] for run in data.get("printed", []) if run.get("command")}


def matches(quoted: str, numbers: list[float]) -> bool:
    """Whether a quoted number is one of the file's, as printed or rounded to the quoted decimals."""
    decimals = len(quoted.partition(".")[2])
    value = float(quoted)
    return any(abs(round(n, decimals) - value) < 10 ** -(decimals + 3) for n in numbers)


def regions(page: Path) -> list[tuple[list[str], str]]:
    return [(names.split(), region) for names, region in FIGURES.findall(page.read_text())]


@pytest.mark.parametrize("page", WRITTEN, ids=rel)
def test_every_quoted_figure_names_its_machine_and_equals_its_results_file(page):
    problems = []
    for names, region in regions(page):
        files = {name: results_file(name) for name in names}
        flat = " ".join(region.split())  # a name may wrap across lines
        for name, data in files.items():
            for key in ("machine", "date"):
                if data[key] not in flat:
                    problems.append(f"a region quoting {name} does not name its {key}: {data[key]!r}")
        lines = set().union(*(printed_lines(d) for d in files.values()))
        commands = set().union(*(commands_of(d) for d in files.values()))
        for _, block in FENCE.findall(region):
            for line in block.splitlines():
                if line.startswith("$ "):
                    if re.split(r"\s+#", line[2:])[0].strip() not in commands:
                        problems.append(f"command not in {names}: {line}")
                elif line.strip() and line.rstrip() not in lines:
                    problems.append(f"output line not printed in {names}: {line}")
        numbers = [float(n) for text in strings(list(files.values())) for n in NUMBER.findall(text)]
        for quoted in NUMBER.findall(without_code(region)):
            if not matches(quoted, numbers):
                problems.append(f"{quoted} is in none of {names}")
    assert not problems, f"{rel(page)}:\n" + "\n".join(problems)


@pytest.mark.parametrize("page", WRITTEN, ids=rel)
def test_no_speed_or_quality_figure_without_a_results_file(page):
    """Outside the figures regions, nothing that looks like a measured speed or quality."""
    text = FIGURES.sub("", page.read_text())
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    text = FENCE.sub(lambda m: m.group(0) if m.group(1) == "text" else "", text)
    text = re.sub(r"`[^`\n]*`", "", text)
    found = [m.group(0) for pattern in FIGURE_PATTERNS for m in re.finditer(pattern, text)]
    assert not found, (f"{rel(page)}: figures without a source: {found}; put them between <!-- figures: "
                       "bench/results/NAME.json --> and <!-- /figures --> (CONTRIBUTING.md), or drop them")


def test_every_results_file_a_page_quotes_names_machine_date_source_and_command():
    quoted = {name for page in WRITTEN for names, _ in regions(page) for name in names}
    assert quoted, "no page quotes a results file"
    for name in sorted(quoted):
        results_file(name)
