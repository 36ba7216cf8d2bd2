"""docker-compose.yml, generated from the registry of ports: one service per port on its
default server, and the comparator targeting every one, so that adding a port to the registry is
all the stack needs (`python -m streambench.stack` rewrites the file; `--check` says whether it
is current, which the tests ask).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

COMPOSE_FILE = Path(__file__).resolve().parent.parent / "docker-compose.yml"
# Every server shares these cores (see the file's header); the database and the comparator have
# their own.
SERVER_CPUS = "1-2"
FIRST_HOST_PORT = 8081

_HEAD = '# GENERATED from the registry of ports (shared/ports.py) by `python -m streambench.stack`: edit\n# streambench/stack.py, not this file; tests/test_compose.py fails when the two differ.\n#\n# The stack for measuring on separate CPUs or separate hosts: PostgreSQL, a one-shot seeder, one\n# server per port (on its default server) and the comparator. The database, the servers and the\n# comparator are pinned to CPUs of their own so that none of them steals another\'s cores; the\n# servers share theirs, since the comparator measures one server at a time (rounds interleave,\n# they never overlap). docs/separate-machines.md walks through it, including the cpusets.\n#\n#   docker compose build\n#   docker compose run --rm compare        # starts db, seed and the servers first, writes ./reports\n#   docker compose down\n#\n# The default cpusets suit a host with 4 or more cores; set STREAMBENCH_*_CPUS for yours.\n\nx-streambench: &streambench\n  build:\n    context: .\n  image: streambench:local\n  environment: &streambench-environment\n    DATABASE_URL: ${DATABASE_URL:-postgresql://streambench:streambench@db:5432/streambench}\n    # Empty turns auth off; any value turns JWT auth on for every server and the comparator alike.\n    STREAMBENCH_JWT_SECRET: ${STREAMBENCH_JWT_SECRET:-}\n    STREAMBENCH_ROWS: ${STREAMBENCH_ROWS:-500000}\n    STREAMBENCH_POOL_SIZE: ${STREAMBENCH_POOL_SIZE:-10}\n    STREAMBENCH_LOG_LEVEL: ${STREAMBENCH_LOG_LEVEL:-INFO}\n\n# Every server checks itself the way the comparator does: GET /healthz must answer 200, which it\n# only does when its database answers. The image has no curl; urlopen raises on anything but 2xx.\nx-server-healthcheck: &server-healthcheck\n  test:\n    - CMD\n    - python\n    - -c\n    - import urllib.request; urllib.request.urlopen(\'http://127.0.0.1:8080/healthz\', timeout=2)\n  interval: 5s\n  timeout: 3s\n  retries: 12\n  start_period: 10s\n\nservices:\n  db:\n    image: postgres:18.6-bookworm\n    environment:\n      POSTGRES_USER: streambench\n      POSTGRES_PASSWORD: streambench\n      POSTGRES_DB: streambench\n    volumes:\n      # PostgreSQL 18 images keep PGDATA in a versioned folder below /var/lib/postgresql.\n      - pgdata:/var/lib/postgresql\n    # Docker\'s default 64 MB of /dev/shm is too little for parallel scans of the data set.\n    shm_size: 512m\n    cpuset: "${STREAMBENCH_DB_CPUS:-0}"\n    ports:\n      - "${STREAMBENCH_PUBLISH_HOST:-127.0.0.1}:${STREAMBENCH_DB_HOST_PORT:-55432}:5432"\n    healthcheck:\n      # Over TCP: while the image initialises the database its temporary server listens on the\n      # Unix socket only, and a socket check would pass before the real server is up.\n      test: ["CMD", "pg_isready", "-h", "127.0.0.1", "-U", "streambench", "-d", "streambench"]\n      interval: 2s\n      timeout: 3s\n      retries: 30\n      start_period: 30s\n\n  seed:\n    <<: *streambench\n    command: ["seed"]\n    # Seeding happens before anything is measured, on the load generator\'s idle cores.\n    cpuset: "${STREAMBENCH_COMPARE_CPUS:-3}"\n    restart: "no"\n    depends_on:\n      db:\n        condition: service_healthy\n\n'

_SERVICE = """\
  {name}:
    <<: *streambench
    command: ["serve", "{name}", "--host", "0.0.0.0", "--port", "8080", "--metrics"]
    cpuset: "${{STREAMBENCH_{var}_CPUS:-{cpus}}}"
    ports:
      - "${{STREAMBENCH_PUBLISH_HOST:-127.0.0.1}}:${{STREAMBENCH_{var}_HOST_PORT:-{host_port}}}:8080"
    healthcheck: *server-healthcheck
    depends_on:
      db:
        condition: service_healthy

"""


def render(ports: Sequence[str]) -> str:
    """The whole file for these port names, in this order."""
    out = [_HEAD]
    for index, name in enumerate(ports):
        out.append(
            _SERVICE.format(
                name=name, var=_variable(name), cpus=SERVER_CPUS, host_port=FIRST_HOST_PORT + index
            )
        )
    out.append("  compare:\n    <<: *streambench\n    command:\n      - compare\n")
    for name in ports:
        out.append(f"      - --target\n      - {name}=http://{name}:8080\n")
    out.append("      - --out\n      - /reports\n")
    out.append(
        "    environment:\n"
        "      <<: *streambench-environment\n"
        "      # How the stack is laid out, as `service=cpuset` pairs; the comparator copies it into its\n"
        "      # reports. Built from the same variables as the cpusets below, so it cannot drift from them.\n"
        "      STREAMBENCH_LAYOUT: >-\n"
        "        docker compose: db=${STREAMBENCH_DB_CPUS:-0}\n"
    )
    for name in ports:
        out.append(f"        {name}=${{STREAMBENCH_{_variable(name)}_CPUS:-{SERVER_CPUS}}}\n")
    out.append(
        "        compare=${STREAMBENCH_COMPARE_CPUS:-3}\n"
        '    cpuset: "${STREAMBENCH_COMPARE_CPUS:-3}"\n'
        "    # The image's user is 10001; run as yours so that the reports belong to you.\n"
        '    user: "${STREAMBENCH_UID:-10001}:${STREAMBENCH_GID:-10001}"\n'
        "    volumes:\n"
        "      - ./reports:/reports\n"
        "    depends_on:\n"
        "      seed:\n"
        "        condition: service_completed_successfully\n"
    )
    for name in ports:
        out.append(f"      {name}:\n        condition: service_healthy\n")
    out.append("\nvolumes:\n  pgdata:\n")
    return "".join(out)


def _variable(name: str) -> str:
    return name.upper().replace("-", "_").replace(".", "_")


def registry_ports() -> list[str]:
    """The ports of the repository's registry (not the environment's extra ones)."""
    from shared.ports import PORTS

    return list(PORTS)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streambench.stack", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is not current")
    args = parser.parse_args(argv)
    wanted = render(registry_ports())
    if args.check:
        current = COMPOSE_FILE.read_text() if COMPOSE_FILE.exists() else ""
        if current != wanted:
            print(f"{COMPOSE_FILE.name} is not current: run python -m streambench.stack")
            return 1
        return 0
    COMPOSE_FILE.write_text(wanted)
    print(f"wrote {COMPOSE_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
