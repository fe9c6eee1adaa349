"""The documentation cannot rot: README.md's and every docs/ page's Python blocks run, in order,
in one namespace per page (as a reader would paste them); every `jaxrl` command line in README's
bash blocks parses; the agent pages' field tables list their Configs' fields, defaults and
docstrings as they are; the custom environment of docs/custom_env.md stays under 30 lines.

`python -m tests.test_docs` rewrites the agent pages' field tables from the Configs."""

import ast
import dataclasses
import inspect
import os
import re
import shlex
import textwrap
from typing import Any, ClassVar

import pytest
import tyro

from jaxrl import agents, cli, sweep

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")


def _blocks(path: str, language: str) -> list[str]:
    with open(path) as f:
        text = f.read()
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.S | re.M)


def test_readme_python_blocks_run_in_order():
    blocks = _blocks(README, "python")
    assert len(blocks) >= 5
    namespace: dict = {"__name__": "readme"}
    for i, block in enumerate(blocks):
        try:
            exec(compile(block, f"README.md python block {i}", "exec"), namespace)
        except Exception as error:  # noqa: BLE001 - name the block that broke
            raise AssertionError(f"README.md python block {i} fails: {error!r}\n{block}") from error
    # What the blocks promise: the chunked run ends where the one call does, and the sweep ran.
    out, state = namespace["out"], namespace["state"]
    assert int(state.iteration) == namespace["train"].num_iterations
    assert namespace["result"].best is not None and out.metrics is not None


def _commands() -> list[list[str]]:
    commands = []
    for block in _blocks(README, "bash"):
        for line in block.splitlines():
            line = line.split("#", 1)[0].strip()
            if line.startswith("jaxrl "):
                commands.append(shlex.split(line)[1:])
    return commands


def test_readme_has_command_lines():
    assert {argv[0] for argv in _commands()} == {"train", "sweep", "pbt", "evaluate"}


@pytest.mark.parametrize("argv", _commands(), ids=lambda argv: " ".join(argv)[:60])
def test_readme_command_lines_parse(argv):
    command, rest = argv[0], argv[1:]
    if "--help" in rest:
        with pytest.raises(SystemExit) as exit_info:
            cli.parse_train(rest) if command == "train" else cli.parse_sweep(rest)
        assert exit_info.value.code in (0, None)
    elif command == "train" and rest[0] == "--resume":
        assert "resume" in cli.RunOptions.__dataclass_fields__  # needs a run directory to do more
    elif command == "train":
        name, config, options = cli.parse_train(rest)
        assert config.agent == name
    elif command == "evaluate":
        options = tyro.cli(cli.EvaluateOptions, args=rest)
        assert options.run_dir == rest[0] and options.episodes >= 1
    else:
        name, config, options = (cli.parse_pbt if command == "pbt" else cli.parse_sweep)(rest)
        settings = cli.settings_from_options(options)
        sweep.check_settings(config.hparams(), settings)
        assert len(settings) >= 2
        if command == "pbt":  # generations of --ready-every iterations tile the run (it was 10 of 976)
            assert config.num_iterations % options.ready_every == 0, (config.num_iterations, options.ready_every)


# -- docs/ ------------------------------------------------------------------------------------
# Every page under docs/ runs as the README does: its python blocks in order, in one namespace.
# The agent pages' field tables are checked against the Configs they document (regenerate them
# with `python -m tests.test_docs`), and the custom environment stays under 30 lines.

DOCS = os.path.join(ROOT, "docs")
# Which page documents which agent, in a table that follows the marker `<!-- fields: NAME -->`.
AGENT_PAGES = {"ppo": "agents/ppo.md", "dqn": "agents/dqn.md", "ddpg": "agents/ddpg.md", "td3": "agents/ddpg.md",
               "d4pg": "agents/ddpg.md", "sac": "agents/sac.md", "pqn": "agents/pqn.md",
               "recurrent_ppo": "agents/recurrent_ppo.md", "impala": "agents/impala.md", "r2d2": "agents/r2d2.md",
               "mpo": "agents/mpo.md", "bc": "agents/offline.md",
               "td3_bc": "agents/offline.md", "cql": "agents/offline.md", "iql": "agents/offline.md",
               "crr": "agents/offline.md", "bve": "agents/offline.md", "ail": "agents/imitation.md",
               "sqil": "agents/imitation.md", "pwil": "agents/imitation.md", "sacfd": "agents/demonstrations.md",
               "td3fd": "agents/demonstrations.md", "dqfd": "agents/demonstrations.md"}
REQUIRED_PAGES = sorted({*AGENT_PAGES.values(), "custom_env.md", "embedding.md", "datasets.md", "README.md"})
# Written by `make baselines` (experiments/baselines.py), so absent until that has run.
GENERATED_PAGES = {"baselines.md"}
FIELD_MARKER = re.compile(r"^<!-- fields: (\w+) -->$", flags=re.M)
FIELD_TABLE_HEADER = ("| field | default | traced | what it sets |", "| --- | --- | :---: | --- |")
CUSTOM_ENV_MAX_LINES = 30


def _doc_pages() -> list[str]:
    """Every markdown page under docs/, as a path relative to docs/, sorted."""
    pages = []
    for directory, _, files in os.walk(DOCS):
        pages += [os.path.relpath(os.path.join(directory, f), DOCS) for f in files if f.endswith(".md")]
    return sorted(pages)


def _read(page: str) -> str:
    with open(os.path.join(DOCS, page)) as f:
        return f.read()


def test_docs_has_its_pages():
    assert set(REQUIRED_PAGES) <= set(_doc_pages())


@pytest.mark.parametrize("page", [p for p in _doc_pages() if _blocks(os.path.join(DOCS, p), "python")])
def test_docs_python_blocks_run_in_order(page):
    namespace: dict = {"__name__": "docs"}
    for i, block in enumerate(_blocks(os.path.join(DOCS, page), "python")):
        try:
            exec(compile(block, f"docs/{page} python block {i}", "exec"), namespace)
        except Exception as error:  # noqa: BLE001 - name the page and block that broke
            raise AssertionError(f"docs/{page} python block {i} fails: {error!r}\n{block}") from error


def test_docs_index_links_every_page_and_links_resolve():
    index = _read("README.md")
    for page in _doc_pages():
        if page != "README.md":
            assert f"]({page})" in index, f"docs/README.md does not link docs/{page}"
    for page in _doc_pages():
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", _read(page)):
            if "://" in target:
                continue
            path = os.path.normpath(os.path.join(DOCS, os.path.dirname(page), target))
            if os.path.relpath(path, DOCS) in GENERATED_PAGES:
                continue
            assert os.path.exists(path), f"docs/{page} links {target}, which does not exist"


# -- field tables -----------------------------------------------------------------------------


def field_docstring(config_cls: type, name: str) -> str:
    """The docstring under field `name` in the nearest class of `config_cls`'s MRO that declares it
    in its source (a subclass's `defaults` change a default, not the field's text), on one line."""
    for klass in config_cls.__mro__:
        if name not in getattr(klass, "__dataclass_fields__", {}):
            continue
        try:
            body = ast.parse(textwrap.dedent(inspect.getsource(klass))).body[0].body
        except (OSError, TypeError):
            continue
        for statement, following in zip(body, body[1:]):
            if (isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)
                    and statement.target.id == name and isinstance(following, ast.Expr)
                    and isinstance(following.value, ast.Constant) and isinstance(following.value.value, str)):
                return " ".join(following.value.value.split())
    return ""


def expected_fields(config_cls: type) -> list[tuple[str, Any, bool, str]]:
    """(name, default, traced, docstring) of every field of `config_cls`, in declaration order;
    traced: the field is also an `HParams` field, so `jax.vmap` sweeps it without recompiling."""
    traced = {f.name for f in dataclasses.fields(config_cls.HParams)}
    return [(f.name, f.default, f.name in traced, field_docstring(config_cls, f.name))
            for f in dataclasses.fields(config_cls)]


def field_table(config_cls: type) -> str:
    """`config_cls`'s fields as the markdown table the agent pages show."""
    rows = [f"| `{name}` | `{default!r}` | {'yes' if traced else ''} | {_escape(doc)} |"
            for name, default, traced, doc in expected_fields(config_cls)]
    return "\n".join([*FIELD_TABLE_HEADER, *rows])


def _escape(text: str) -> str:
    """`text` as a table cell shows it: a bar would end the cell, `<name>` would be read as HTML."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace("|", "\\|")


def _cells(row: str) -> list[str]:
    """The cells of a markdown table row, unescaped (`_escape`)."""
    cells = re.split(r"(?<!\\)\|", row.strip())[1:-1]
    return [cell.strip().replace("\\|", "|").replace("&lt;", "<").replace("&amp;", "&") for cell in cells]


def _table_after(text: str, marker: re.Match) -> list[str]:
    """The rows of the markdown table on the lines right after `marker`'s line."""
    table = []
    for line in text[marker.end() + 1:].splitlines():
        if not line.startswith("|"):
            break
        table.append(line)
    return table


def parse_field_tables(text: str) -> dict[str, list[tuple[str, Any, bool, str]]]:
    """{agent: its table's rows as (name, default, traced, docstring)} for every marker in `text`."""
    tables = {}
    for marker in FIELD_MARKER.finditer(text):
        rows = _table_after(text, marker)
        assert tuple(rows[:2]) == FIELD_TABLE_HEADER, f"the table after {marker.group(0)} has the header {rows[:2]}"
        parsed = []
        for row in rows[2:]:
            cells = _cells(row)
            assert len(cells) == 4, f"the table after {marker.group(0)} has a row of {len(cells)} cells: {row}"
            name, default, traced, doc = cells
            parsed.append((name.strip("`"), ast.literal_eval(default.strip("`")), traced == "yes", doc))
        tables[marker.group(1)] = parsed
    return tables


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same type (so 1 is not 1.0), elementwise through tuples."""
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def test_agent_pages_cover_every_builtin_agent():
    from jaxrl.agents import registry

    assert set(AGENT_PAGES) == set(registry._BUILTIN)
    found = {name: page for page in set(AGENT_PAGES.values()) for name in parse_field_tables(_read(page))}
    assert found == AGENT_PAGES


@pytest.mark.parametrize("name", sorted(AGENT_PAGES))
def test_agent_page_field_table_matches_config(name):
    config_cls = agents.get(name).Config
    expected = expected_fields(config_cls)
    assert all(doc for _, _, _, doc in expected), f"{name}.Config has fields without a docstring"
    table = parse_field_tables(_read(AGENT_PAGES[name]))[name]
    hint = f"docs/{AGENT_PAGES[name]}'s {name} table is stale: regenerate it with `python -m tests.test_docs`"
    assert [row[0] for row in table] == [row[0] for row in expected], hint
    for got, want in zip(table, expected):
        assert _same(got[1], want[1]) and got[2:] == want[2:], f"{hint}\n  table:  {got}\n  config: {want}"


@dataclasses.dataclass(frozen=True)
class _ExampleHParams:
    rate: float = 0.0


@dataclasses.dataclass(frozen=True)
class _ExampleConfig:
    HParams: ClassVar[type] = _ExampleHParams

    rate: float = 1e-3
    """A step size, |rate| < 1 (<this> & &lt;)."""
    sizes: tuple[int, ...] = (16, 16)
    """Widths."""
    name: str | None = None
    # A comment is not the docstring.
    """Nothing,   or a `name`
    over two lines."""
    count: int = 1


def test_field_tables_round_trip():
    assert expected_fields(_ExampleConfig) == [("rate", 1e-3, True, "A step size, |rate| < 1 (<this> & &lt;)."),
                                               ("sizes", (16, 16), False, "Widths."),
                                               ("name", None, False, "Nothing, or a `name` over two lines."),
                                               ("count", 1, False, "")]
    for config_cls in (_ExampleConfig, agents.get("td3").Config):  # td3: docstrings and defaults inherited
        text = f"# page\n\n<!-- fields: x -->\n{field_table(config_cls)}\n\nmore\n"
        assert parse_field_tables(text)["x"] == expected_fields(config_cls)
    assert not _same(1, 1.0) and not _same((16,), (16.0,)) and _same((16, 16), (16, 16))


def write_field_tables() -> list[str]:
    """Rewrites every agent page's field tables from the Configs; returns the pages changed."""
    changed = []
    for page in sorted(set(AGENT_PAGES.values())):
        text = _read(page)
        new = text
        for marker in reversed(list(FIELD_MARKER.finditer(text))):  # from the end: earlier offsets hold
            start = marker.end() + 1
            end = start + sum(len(row) + 1 for row in _table_after(text, marker))
            new = new[:start] + field_table(agents.get(marker.group(1)).Config) + "\n" + new[end:]
        if new != text:
            with open(os.path.join(DOCS, page), "w") as f:
                f.write(new)
            changed.append(page)
    return changed


# -- the custom environment -------------------------------------------------------------------


def test_custom_env_is_under_30_lines():
    env_blocks = [b for b in _blocks(os.path.join(DOCS, "custom_env.md"), "python") if "jaxrl.register(" in b]
    assert len(env_blocks) == 1, "docs/custom_env.md should define and register its environment in one block"
    lines = env_blocks[0].rstrip("\n").splitlines()
    assert len(lines) < CUSTOM_ENV_MAX_LINES, f"the environment block has {len(lines)} lines"
    for method in ("def spec(", "def reset(", "def step("):
        assert method in env_blocks[0]


if __name__ == "__main__":
    print("rewrote:", ", ".join(write_field_tables()) or "nothing (the tables are current)")
