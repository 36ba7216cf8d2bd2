"""The head limits, timeouts and shutdown grace: their arithmetic, and docs/contract.md stating
the figures the code uses. No server; the conformance suite checks the servers."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.limits import (
    MAX_HEADER_BYTES,
    MAX_HEADER_FIELDS,
    MAX_TARGET_BYTES,
    HeadCounter,
    HeadRefused,
    check_head,
    check_version,
    version_not_supported,
)
from shared.settings import ENV_NAMES, Settings
from shared.shutdown import ShutdownPlan

CONTRACT = (Path(__file__).resolve().parent.parent / "docs" / "contract.md").read_text()


def _fields(total: int) -> list[tuple[bytes, bytes]]:
    return [(b"X-Fill", b"a" * (total - len(b"X-Fill") - 4))]


def test_check_head_at_and_over_each_limit() -> None:
    check_head(MAX_TARGET_BYTES, _fields(MAX_HEADER_BYTES))
    check_head(1, [(b"a", b"")] * MAX_HEADER_FIELDS)
    for target, fields, status in [
        (MAX_TARGET_BYTES + 1, [], 414),
        (1, _fields(MAX_HEADER_BYTES + 1), 431),
        (1, [(b"a", b"")] * (MAX_HEADER_FIELDS + 1), 431),
    ]:
        with pytest.raises(HeadRefused) as refused:
            check_head(target, fields)
        assert refused.value.status == status


def test_head_counter_refuses_as_pieces_arrive() -> None:
    counter = HeadCounter()
    counter.add_target(b"/" * (MAX_TARGET_BYTES - 1))
    counter.add_target(b"x")
    with pytest.raises(HeadRefused) as refused:
        counter.add_target(b"y")
    assert refused.value.status == 414
    counter = HeadCounter()
    for name, value in _fields(MAX_HEADER_BYTES):
        counter.add_field(name, value)
    with pytest.raises(HeadRefused) as refused:
        counter.add_field(b"a", b"")
    assert refused.value.status == 431


def test_refusal_answer_is_the_contracts_json() -> None:
    answer = HeadRefused(431, "header section larger than 16384 bytes").answer()
    assert answer.status == 431
    assert answer.body == b'{"error":"header section larger than 16384 bytes"}'
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.headers["Connection"] == "close"
    assert len(answer.headers["X-Request-ID"]) == 16


def test_only_http_1_0_and_1_1_are_spoken() -> None:
    check_version("1.0")
    check_version("1.1")
    for version in ("0.9", "1.2", "2.0", "3.0"):
        with pytest.raises(HeadRefused) as refused:
            check_version(version)
        assert refused.value == version_not_supported()
    head = version_not_supported().response().split(b"\r\n")
    assert head[0] == b"HTTP/1.1 505 HTTP Version Not Supported"
    assert b"Content-Type: application/json" in head


@pytest.mark.parametrize(("grace", "cut"), [(10.0, 8.0), (4.0, 2.0), (2.0, 1.0), (0.0, 0.0)])
def test_shutdown_plan_cuts_before_the_grace_ends(grace: float, cut: float) -> None:
    plan = ShutdownPlan.from_settings(Settings(shutdown_grace=grace))
    assert plan.cut_after == cut
    assert plan.cut_after + plan.closing == grace


def test_contract_states_the_figures() -> None:
    defaults = Settings()
    for figure in (
        f"**{MAX_TARGET_BYTES}** bytes",
        f"**{MAX_HEADER_BYTES}** bytes",
        f"**{MAX_HEADER_FIELDS}**",
        f"(default **{defaults.head_timeout:g}**)",
        f"(default **{defaults.shutdown_grace:g}**)",
        f'`{{"error":"{version_not_supported().reason}"}}`',
    ):
        assert figure in CONTRACT, f"docs/contract.md does not say {figure!r}"
    ours = [ENV_NAMES["head_timeout"], ENV_NAMES["shutdown_grace"]]
    missing = [variable for variable in ours if f"`{variable}`" not in CONTRACT]
    assert not missing, f"docs/contract.md's configuration table lacks {missing}"
