"""Generated bots of any size, for the benchmarks: N flows in files of 100 flows each."""

from __future__ import annotations

from pathlib import Path

FLOWS_PER_FILE = 100


def flow_file(first: int, count: int, *, greeting: str = "Hello") -> str:
    flows = []
    for number in range(first, first + count):
        keywords = f'["word{number}", "alias{number}"]'
        reply = f"{greeting} {{{{ vars.name or 'there' }}}}, this is flow {number}."
        following = f'{{ title: "Next", payload: "PAYLOAD_{number + 1}" }}'
        flows.append(
            f"""    flow{number}: {{
      triggers: [{{ payload: "PAYLOAD_{number}" }}, {{ keywords: {keywords} }}],
      steps: [{{ text: "{reply}", quick_replies: [{following}] }}],
    }},"""
        )
    return "{\n  flows: {\n" + "\n".join(flows) + "\n  },\n}\n"


def write_bot(directory: Path, flows: int, *, messenger: str) -> Path:
    """A config and `flows` flows (plus a fallback) in `directory`; returns the config path."""
    folder = directory / "flows"
    folder.mkdir(parents=True, exist_ok=True)
    for first in range(0, flows, FLOWS_PER_FILE):
        count = min(FLOWS_PER_FILE, flows - first)
        (folder / f"part{first // FLOWS_PER_FILE:05d}.json5").write_text(flow_file(first, count))
    (folder / "fallback.json5").write_text(
        '{ flows: { fallback: { steps: [{ text: "Sorry?" }] } } }'
    )
    config = directory / "config.json5"
    config.write_text(f"{{ channels: {{ messenger: {{ {messenger} }} }}, flows: 'flows/' }}")
    return config
