"""Reading the stack's files the way Docker does: compose's interpolation, the Dockerfile's stages,
.dockerignore's matching, and the command lines the containers run."""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from streambench.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<operator>:?[-?])(?P<argument>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Compose's variable substitution: $$, $VAR, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["named"]
        operator, argument = match["operator"], match["argument"]
        present = name in env and (env[name] != "" or not (operator or "").startswith(":"))
        if present:
            return env[name]
        if operator in (":-", "-"):
            return str(argument)
        if operator in (":?", "?"):
            raise ValueError(f"${{{name}}} is required: {argument}")
        return ""

    return _VARIABLE.sub(substitute, value)


@cache
def raw_compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return document


def compose(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The compose file with variables resolved from `env` (none set: every default applies)."""
    document: dict[str, Any] = interpolate(raw_compose(), env or {})
    return document


def services(env: Mapping[str, str] | None = None) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose(env)["services"]
    return found


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    entries = service.get("environment") or {}
    if isinstance(entries, list):
        entries = dict(entry.partition("=")[::2] for entry in entries)
    return {key: "" if value is None else str(value) for key, value in entries.items()}


@dataclass(frozen=True)
class Dockerfile:
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def instructions(self, keyword: str) -> list[str]:
        return [args for stage in self.stages for kw, args in stage.instructions if kw == keyword]


@dataclass(frozen=True)
class Stage:
    image: str
    name: str | None
    instructions: list[tuple[str, str]]

    def arguments(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def parse_dockerfile(text: str) -> Dockerfile:
    """Instructions per stage, with continuation lines joined and comment lines dropped."""
    logical: list[str] = []
    pending = ""
    for line in text.splitlines():
        if line.strip().startswith("#") or (not line.strip() and not pending):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        logical.append(pending + line.strip())
        pending = ""
    assert not pending, "the Dockerfile ends in a line continuation"

    stages: list[Stage] = []
    for line in logical:
        keyword, _, arguments = line.partition(" ")
        keyword, arguments = keyword.upper(), arguments.strip()
        if keyword == "FROM":
            words = [word for word in arguments.split() if not word.startswith("--")]
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0], name, []))
        else:
            assert stages, f"{keyword} before the first FROM"
            stages[-1].instructions.append((keyword, arguments))
    return Dockerfile(stages)


@cache
def dockerfile() -> Dockerfile:
    return parse_dockerfile(DOCKERFILE.read_text())


def entrypoint() -> list[str]:
    entrypoints = dockerfile().final.arguments("ENTRYPOINT")
    assert entrypoints, "the final stage has no ENTRYPOINT"
    # Exec form only: the shell form would put /bin/sh -c between compose's command and the CLI.
    words: list[str] = json.loads(entrypoints[-1])
    return words


def command_line(service: Mapping[str, Any]) -> list[str]:
    """What the container runs: the image's ENTRYPOINT followed by the service's command."""
    command = service.get("command")
    assert isinstance(command, list), f"command must be a list (exec form), got {command!r}"
    return [*entrypoint(), *(str(word) for word in command)]


def option(argv: Sequence[str], name: str) -> list[str]:
    return [argv[i + 1] for i, word in enumerate(argv[:-1]) if word == name]


def with_option(argv: Sequence[str], name: str, value: str) -> list[str]:
    assert argv.count(name) == 1, f"expected exactly one {name} in {argv}"
    at = argv.index(name)
    return [*argv[: at + 1], value, *argv[at + 2 :]]


def server_services(env: Mapping[str, str] | None = None) -> dict[str, tuple[str, dict[str, Any]]]:
    """Port name -> (service name, service) for every service that runs `streambench serve`."""
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for name, service in services(env).items():
        argv = command_line(service) if "command" in service else []
        if argv[1:2] == ["serve"]:
            port_name = argv[2]
            assert port_name not in found, f"port {port_name} is served by two services"
            found[port_name] = (name, service)
    return found


def parse_cpuset(cpuset: str) -> set[int]:
    cpus: set[int] = set()
    for part in cpuset.split(","):
        first, _, last = part.strip().partition("-")
        cpus.update(range(int(first), int(last or first) + 1))
    return cpus


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    assert argv[0] == "streambench", f"not a streambench command: {argv}"
    try:
        return build_parser().parse_args(argv[1:])
    except SystemExit as error:
        raise AssertionError(f"streambench rejects {' '.join(argv)} (exit {error.code})") from None


def subcommands() -> set[str]:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    raise AssertionError("streambench has no subcommands")


def clean_environ() -> dict[str, str]:
    """This process's environment without the variables the stack sets, so defaults apply."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("STREAMBENCH_", "COMPOSE_")) and key != "DATABASE_URL"
    }


def _dockerignore_pattern(pattern: str) -> re.Pattern[str]:
    regex = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            regex, i = regex + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            regex, i = regex + ".*", i + 2
        elif pattern[i] == "*":
            regex, i = regex + "[^/]*", i + 1
        elif pattern[i] == "?":
            regex, i = regex + "[^/]", i + 1
        else:
            regex, i = regex + re.escape(pattern[i]), i + 1
    return re.compile(regex)


def ignored(path: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parents = ["/".join(path.split("/")[:depth]) for depth in range(1, path.count("/") + 2)]
    excluded = False
    for line in DOCKERIGNORE.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = _dockerignore_pattern(line.removeprefix("!").strip("/"))
        if any(pattern.fullmatch(candidate) for candidate in parents):
            excluded = not negated
    return excluded
