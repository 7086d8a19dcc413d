"""Audit findings: every check the audit made, with a stable id, where it applies and its verdict."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Finding:
    """One check. `check` is a stable id (each is listed in docs/audit.md, "Check ids"); `scope` says where
    ("federation", "round 3", "round 3 slot 1"); `detail` is the evidence or the precise reason."""

    check: str
    scope: str
    ok: bool
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.scope}: {self.check}: {self.detail}" if self.detail else f"{self.scope}: {self.check}"


@dataclass
class Findings:
    items: list[Finding] = field(default_factory=list)

    def add(self, check: str, scope: str, ok: bool, detail: str = "") -> bool:
        self.items.append(Finding(check, scope, bool(ok), detail))
        return bool(ok)

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.items if not f.ok]

    @property
    def ok(self) -> bool:
        return bool(self.items) and not self.failures
