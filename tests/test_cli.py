"""The command line as a user meets it: help, version, options per command, quick start."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from streambench.cli import build_parser, main

SETTINGS_OPTIONS = ("--database-url", "--pool-size", "--jwt-secret", "--log-level")


def _help(*argv: str) -> None:
    parser = build_parser()
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args([*argv, "--help"])
    assert exit_.value.code == 0


def _help_text(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    _help(*argv)
    return capsys.readouterr().out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    printed = capsys.readouterr().out.strip()
    name, version = printed.split()
    assert name == "streambench"
    assert version[0].isdigit(), printed


def test_top_level_help_speaks_to_a_user_with_examples(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help_text(capsys)
    assert "lives here" not in text
    assert "streaming" in text
    assert "examples:" in text
    for command in ("db", "seed", "serve", "token", "ports", "compare", "report"):
        assert command in text


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("db", ("--database-url", "--log-level")),
        ("seed", ("--database-url", "--log-level")),
        ("serve", SETTINGS_OPTIONS),
        ("compare", SETTINGS_OPTIONS),
        ("token", ("--jwt-secret",)),
        ("ports", ()),
        ("report", ()),
    ],
)
def test_settings_options_only_where_they_mean_something(
    command: str, options: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    text = _help_text(capsys, command)
    for option in SETTINGS_OPTIONS:
        assert (option in text) == (option in options), f"{command} --help and {option}"


def test_serve_names_its_framework_apart_from_its_port(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help_text(capsys, "serve")
    assert "FRAMEWORK" in text
    assert "default: 127.0.0.1" in text
    assert "default: 8080" in text
    args = build_parser().parse_args(["serve", "aiohttp", "--port", "9000"])
    assert (args.framework, args.host, args.port) == ("aiohttp", "127.0.0.1", 9000)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "aiohttp", "--port", "70000"])


def test_help_states_no_duration_it_did_not_measure(capsys: pytest.CaptureFixture[str]) -> None:
    import re

    for command in ((), ("compare",), ("report",)):
        text = _help_text(capsys, *command)
        assert not re.search(r"\d+ ?s here|\d+ seconds here", text), text


def test_help_imports_no_database_machinery() -> None:
    # A fresh interpreter: what `streambench --help` loads, not what this test session already has.
    code = (
        "import sys\n"
        "from streambench.cli import main\n"
        "try:\n"
        "    main(['compare', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted(m for m in ('sqlalchemy', 'asyncpg', 'httpx', 'aiohttp', 'starlette')"
        " if m in sys.modules)\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in done.stderr, done.stderr


def test_unknown_port_to_serve_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "no-such-framework"]) == 2
    err = capsys.readouterr().err
    assert "no port named 'no-such-framework'" in err
    assert "Traceback" not in err


def _options(parser: argparse.ArgumentParser) -> dict[str, str | None]:
    return {
        option: action.help
        for action in parser._actions
        for option in action.option_strings
        if option not in ("-h", "--help")
    }


def _subcommand(name: str) -> argparse.ArgumentParser:
    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            parser: argparse.ArgumentParser = action.choices[name]
            return parser
    raise AssertionError("the parser has no subcommands")


def test_python_m_compare_is_the_compare_command() -> None:
    from compare import command

    alone = argparse.ArgumentParser(prog="python -m compare")
    command.add_arguments(alone)
    compare = _subcommand("compare")
    assert _options(alone) == _options(compare)
    assert alone.epilog == compare.epilog
    done = subprocess.run(
        [sys.executable, "-m", "compare", "--help"], capture_output=True, text=True, check=True
    )
    assert done.stdout.startswith("usage: python -m compare"), done.stdout
    for option in _options(compare):
        assert option in done.stdout, f"python -m compare --help lacks {option}"


def test_the_settings_options_read_alike_on_every_command() -> None:
    # The comparison defines its own (`python -m compare` runs without this package).
    helps = {
        name: {o: h for o, h in _options(_subcommand(name)).items() if o in SETTINGS_OPTIONS}
        for name in ("db", "seed", "serve", "token", "compare")
    }
    for option in SETTINGS_OPTIONS:
        said = {name: found[option] for name, found in helps.items() if option in found}
        assert len(set(said.values())) == 1, f"{option} is explained differently: {said}"


def test_ports_say_which_servers_speak_http2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.servers import SERVERS, load_server
    from streambench.cli import main

    monkeypatch.setenv("COLUMNS", "400")  # one line a port: no cell wrapped
    assert main(["ports"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for name in SERVERS:
        server = load_server(name)
        marked = f"{server.name} {server.version()} (+HTTP/2)"
        assert (marked in text) == ("2" in server.http_versions), name
