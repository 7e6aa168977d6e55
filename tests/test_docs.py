"""The README documents every command of the CLI (the sqlite-utils habit)."""

from __future__ import annotations

from pathlib import Path

import click

from forwarder.cli import main


def _commands(group: click.Group, prefix: str = "forwarder") -> list[str]:
    names = []
    for name, command in group.commands.items():
        full = f"{prefix} {name}"
        names.append(full)
        if isinstance(command, click.Group):
            names += _commands(command, full)
    return names


def test_every_command_is_in_the_readme(repo: Path) -> None:
    readme = (repo / "README.md").read_text(encoding="utf-8")
    missing = [name for name in _commands(main) if name not in readme]
    assert not missing, f"undocumented commands: {missing}"


def test_readme_config_examples_parse(repo: Path) -> None:
    import yaml

    readme = (repo / "README.md").read_text(encoding="utf-8")
    blocks = readme.split("```yaml")[1:]
    assert blocks
    for block in blocks:
        yaml.safe_load(block.split("```")[0])
