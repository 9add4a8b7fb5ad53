"""The vocabulary every format check speaks: issues at two levels and JHOVE's three verdicts."""
from __future__ import annotations

from dataclasses import dataclass

WELL_FORMED_AND_VALID = "well-formed and valid"
WELL_FORMED_NOT_VALID = "well-formed, not valid"
NOT_WELL_FORMED = "not well-formed"

# A malformed file breaks the format's syntax (a reader cannot rely on its structure: bad
# signature, lengths or offsets past the end, missing end marker). An invalid file is parsed
# fine but breaks a rule of the specification (a required tag missing, values that disagree).
MALFORMED = "malformed"
INVALID = "invalid"


@dataclass(frozen=True)
class Issue:
    level: str  # MALFORMED or INVALID
    message: str

    def __str__(self) -> str:
        return self.message


def malformed(message: str) -> Issue:
    return Issue(MALFORMED, message)


def invalid(message: str) -> Issue:
    return Issue(INVALID, message)


def verdict(issues: list[Issue]) -> str:
    """JHOVE's words for a file with these issues."""
    if any(issue.level == MALFORMED for issue in issues):
        return NOT_WELL_FORMED
    if issues:
        return WELL_FORMED_NOT_VALID
    return WELL_FORMED_AND_VALID
