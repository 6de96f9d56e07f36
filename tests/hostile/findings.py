"""Turn a survey (``HOSTILE_SURVEY=FILE pytest tests/hostile``) into a findings list in Markdown:
one line per distinct case (command, what was hostile, the answer), with one example.

    python -m tests.hostile.findings survey.jsonl > findings.md
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from typing import Any


def _short(value: str, limit: int = 60) -> str:
    shown = value if len(value) <= limit else f"{value[:limit]}…({len(value)} chars)"
    return json.dumps(shown, ensure_ascii=True)


def _shape(answer: str) -> str:
    """The answer without the values that vary from one example to the next: an internal
    error by its exception's type alone."""
    internal = re.search(r"internal error: (\w+)", answer)
    if internal:
        return f"internal error: {internal.group(1)}"
    answer = re.sub(r"/tmp/\S+", "<file>", answer)
    answer = re.sub(r"'[^']{20,}'", "'…'", answer)
    answer = re.sub(r"0x[0-9a-f]+", "0x…", answer)
    answer = re.sub(r"\d+", "N", answer)
    return answer[:160]


def _kind(value: str) -> str:
    """A hostile value's family, so the same trouble found through different values is one."""
    if value.startswith("/tmp/"):
        return "a hostile file"
    if value.startswith("/"):
        return value
    if len(value) > 1000:
        return "a very long string"
    if re.fullmatch(r"-?\d+", value) and abs(int(value)) >= 2**63:
        return "an integer >= 2**63"
    return _short(value)


def group(cases: list[dict[str, Any]]) -> dict[tuple[str, ...], list[dict[str, Any]]]:
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for case in cases:
        answer = case.get("cause") or case["answer"]
        key = (case["what"], _shape(answer), ";".join(case["problems"]))
        groups[key].append(case)
    return groups


def render(cases: list[dict[str, Any]]) -> str:
    lines = [
        "| where | hostile | answer | problems | backends | example |",
        "|---|---|---|---|---|---|",
    ]
    for (what, _, problems), found in sorted(group(cases).items()):
        example = found[0]
        backends = ", ".join(sorted({case["backend"] for case in found}))
        seen = {
            f"{name}={_kind(value)}"
            for case in found
            for name, value in (case.get("hostile") or {}).items()
        }
        values = "; ".join(sorted(seen)[:4]) or "-"
        for head in (example.get("files") or {}).values():
            values = values.replace("a hostile file", f"a file holding {_short(head, 60)}")
        if "body" in example:
            values = f"body {_short(example['body'], 80)}"
        args = " ".join(_short(arg, 40) for arg in example.get("args", [])[2:])
        answer = example["answer"][:160]
        if example.get("cause"):
            answer = f"{answer[:60]} (cause: {example['cause'][:120]})"
        answer = answer.replace("|", "\\|")
        lines.append(
            f"| {what} | {values.replace('|', '¦')} | {answer} | {problems} | {backends} | "
            f"`{args.replace('|', '¦')[:200]}` |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as survey:
        print(render([json.loads(line) for line in survey]))
