"""The front page cannot rot: README.md's Python blocks run, in order, in one namespace (as a
reader would paste them), and every `jaxrl` command line in its bash blocks parses."""

import os
import re
import shlex

import pytest

from jaxrl import cli, sweep

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
    assert {argv[0] for argv in _commands()} == {"train", "sweep", "evaluate"}


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
        options = cli._tyro_cli(cli.EvaluateOptions, args=rest)
        assert options.run_dir == rest[0] and options.episodes >= 1
    else:
        name, config, options = cli.parse_sweep(rest)
        settings = cli.settings_from_options(options)
        sweep.check_settings(config.hparams(), settings)
        assert len(settings) >= 2
