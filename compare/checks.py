"""What verification found: checks, each pass, warn or fail with its reason, in the manner of
TechEmpower's verifier, and a contender's verdict over them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

CheckStatus = Literal["pass", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    """One verification check, in the manner of TechEmpower's verifier."""

    name: str
    status: CheckStatus
    reason: str
    url: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Check:
        return cls(
            name=data["name"], status=data["status"], reason=data["reason"], url=data.get("url")
        )


@dataclass(frozen=True)
class Verification:
    passed: bool
    checks: tuple[Check, ...]

    @classmethod
    def of(cls, checks: Iterable[Check]) -> Verification:
        collected = tuple(checks)
        return cls(passed=all(c.status != "fail" for c in collected), checks=collected)

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status == "fail")

    @property
    def warnings(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status == "warn")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Verification:
        return cls(
            passed=bool(data["passed"]),
            checks=tuple(Check.from_dict(c) for c in data["checks"]),
        )
