"""The servers the load benchmark compares, and how each one is started.

- the project: `python -m runtime serve` on a copy of the quickstart's flows, dmPolicy open,
  an appSecret, sender actions on, durable SQLite state (or `state.backend: memory`);
- the reference: bench/reference_app.py, the issue's bare Sanic app;
- Bottender 1.x (`bottender start`, memory sessions), when a folder where
  `npm install bottender --ignore-scripts` was run is given.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyjson5

from bench.bodies import PAGE_ID
from bench.generate import FLOWS_PER_FILE, flow_file
from runtime.locales import TEXT_LOCALE_PATTERN

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
QUICKSTART_FLOWS = ROOT / "examples" / "quickstart" / "flows"
SECRET = "bench-app-secret"
TOKEN = "bench-page-token"  # a fake token for the fake Graph API
LONG_REPLY_CHARS = 5000


@dataclass(frozen=True, slots=True, kw_only=True)
class Project:
    """How the project's bot is set up for one run."""

    state: str = "sqlite"  # or "memory": durability off; or "redis" (at `redis_url`)
    redis_url: str = ""
    redis_prefix: str = "bench:"
    sender_actions: bool = True
    flows: int = 0  # generated flows (bench/generate.py) next to the quickstart's
    long_reply: bool = False  # a flow answering "long" with LONG_REPLY_CHARS characters
    # the quickstart's welcome greets by name (`user.first_name`: the User Profile API is
    # asked once a person); False: the same text without it, so nothing is asked
    by_name: bool = True
    metrics: bool = True  # server.metrics: GET /metrics and the counting behind it


@dataclass(frozen=True, slots=True, kw_only=True)
class System:
    """One server under test: `kind` is project, reference or bottender."""

    kind: str
    workers: int = 1
    project: Project = Project()
    bottender_dir: Path | None = None
    # the project's code from another commit (a `git archive` of it), to compare in one run
    source: Path | None = None
    source_label: str = ""

    @property
    def label(self) -> str:
        text = f"{self.kind} {self.workers}w"
        if self.kind == "project" and self.project.state != "sqlite":
            text += f" {self.project.state}"
        if self.kind == "project" and not self.project.sender_actions:
            text += " no-actions"
        if self.kind == "project" and not self.project.by_name:
            text += " no-name"
        if self.kind == "project" and not self.project.metrics:
            text += " no-metrics"
        if self.source is not None:
            text += f" @{self.source_label}"
        return text

    @property
    def calls_per_message(self) -> tuple[int, int]:
        """(messages, sender actions) the Graph API gets for one "hi"."""
        if self.kind == "bottender":
            return 1, 0
        if self.kind == "project" and not self.project.sender_actions:
            return 1, 0
        return 1, 2


@dataclass(frozen=True, slots=True)
class Launch:
    command: list[str]
    env: dict[str, str]
    cwd: Path | None


def launch(system: System, folder: Path, *, port: int, graph_base: str) -> Launch:
    """Write whatever `system` needs into `folder`; the command that starts it."""
    if system.kind == "project":
        config = write_project(folder, system.project)
        command = [sys.executable, "-m", "runtime", "serve", "-c", str(config)]
        command += ["--port", str(port), "--workers", str(system.workers)]
        env = {"MESSENGER_GRAPH_API_BASE": graph_base}
        if system.source is not None:  # `-m` looks in the working directory first
            env["PYTHONPATH"] = str(system.source)
        return Launch(command, env, system.source)
    if system.kind == "reference":
        command = [sys.executable, str(BENCH / "reference_app.py"), "--port", str(port)]
        command += ["--graph-base", graph_base, "--secret", SECRET]
        command += ["--workers", str(system.workers)]
        return Launch(command, {}, None)
    if system.kind == "bottender" and system.bottender_dir is not None:
        app = write_bottender(folder, system.bottender_dir)
        command = ["node", "node_modules/.bin/bottender", "start", "--port", str(port)]
        env = {
            "NODE_ENV": "production",
            "MESSENGER_PAGE_ID": PAGE_ID,
            "MESSENGER_ACCESS_TOKEN": TOKEN,
            "MESSENGER_APP_SECRET": SECRET,
            "MESSENGER_VERIFY_TOKEN": "bench-verify",
            "MESSENGER_GRAPH_API_BASE": graph_base,
        }
        return Launch(command, env, app)
    raise ValueError(f"cannot start {system.kind}")


def write_project(folder: Path, project: Project) -> Path:
    """The quickstart's flows plus generated ones; returns the config."""
    flows = folder / "flows"
    shutil.copytree(QUICKSTART_FLOWS, flows)
    media = QUICKSTART_FLOWS.parent / "media"
    if media.is_dir():  # the files its attachments send (`file:`), next to its flows
        shutil.copytree(media, folder / "media")
    if not project.by_name:
        welcome = flows / "welcome.json5"
        greeting = "{{ user.first_name or 'there' }}"
        welcome.write_text(welcome.read_text().replace(greeting, "there"))
        # and no text by locale: one would ask the profile for `locale`
        for path in flows.glob("*.json5"):
            path.write_text(json.dumps(_default_texts(pyjson5.loads(path.read_text()))))
    for first in range(0, project.flows, FLOWS_PER_FILE):
        count = min(FLOWS_PER_FILE, project.flows - first)
        (flows / f"generated{first // FLOWS_PER_FILE:05d}.json5").write_text(
            flow_file(first, count)
        )
    if project.long_reply:
        text = ("All work and no play makes a long reply. " * 200)[:LONG_REPLY_CHARS]
        (flows / "long.json5").write_text(
            f'{{ flows: {{ long: {{ triggers: [{{ keywords: ["long"] }}],'
            f' steps: [{{ text: "{text}" }}] }} }} }}'
        )
    actions = "true" if project.sender_actions else "false"
    if project.state == "memory":
        state = '{ backend: "memory" }'
    elif project.state == "redis":
        state = (
            f'{{ backend: "redis", url: "{project.redis_url}", prefix: "{project.redis_prefix}" }}'
        )
    else:
        state = f'{{ backend: "sqlite", path: "{folder / "state.db"}" }}'
    config = folder / "config.json5"
    config.write_text(
        "{\n"
        f'  channels: {{ messenger: {{ pageAccessToken: "{TOKEN}", appSecret: "{SECRET}",\n'
        f'    verifyToken: "bench-verify", dmPolicy: "open", senderActions: {actions} }} }},\n'
        '  flows: "flows/",\n'
        f"  state: {state},\n"
        # written only when off: the code of a commit before the key (--baseline) reads it
        + ("" if project.metrics else "  server: { metrics: false },\n")
        + "}\n"
    )
    return config


def _default_texts(value: Any) -> Any:
    """`value` with each text written by locale (`{ default: ..., fr_FR: ... }`) replaced by
    its `default` entry."""
    if isinstance(value, dict):
        if "default" in value and all(
            re.fullmatch(TEXT_LOCALE_PATTERN, key) for key in value if key != "default"
        ):
            return _default_texts(value["default"])
        return {key: _default_texts(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_default_texts(item) for item in value]
    return value


def write_bottender(folder: Path, installed: Path) -> Path:
    """bench/bottender's app in `folder`, using the node_modules of `installed`."""
    app = folder / "bottender"
    shutil.copytree(BENCH / "bottender", app)
    (app / "node_modules").symlink_to(installed / "node_modules")
    return app
