"""The ``forwarder`` command line: the only place that prints errors and chooses exit codes.

Exit codes: 0 success; 1 the job ran but something is left undone (deliveries still open,
problems found), or the command could not do it (no forwarder database at the config's path, a
model that does not load: the message says why); 2 the config is unusable (or the command line is
wrong).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

# python-telegram-bot 22: opt in to timedelta retry_after now (the sink reads both forms),
# which also silences its deprecation warning on every 429.
os.environ.setdefault("PTB_TIMEDELTA", "1")

import click

from forwarder import __version__
from forwarder.errors import ConfigError, ModelError, StoreError

DEFAULT_CONFIG = "config/groups.yaml"


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S",
        stream=sys.stderr,
    )
    # libraries are noisy at INFO (every HTTP request); keep them at WARNING
    for name in ("httpx", "telegram", "tweepy", "urllib3", "aiohttp"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _load(config: str):
    from forwarder.config import load_config

    try:
        return load_config(config)
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        if Path(config).is_file():  # a file that could not be read has nothing more to check
            click.echo("(the checks against the model and the kecamatan list run once these are fixed)",
                       err=True)
        sys.exit(2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="forwarder")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
              help="How much the daemon logs (to standard error).")
def main(log_level: str) -> None:
    """Route citizen complaints (pengaduan) from SMS and X to the officer group chats."""
    _setup_logging(log_level)


@main.command()
@click.option("--config", "config_path", default=DEFAULT_CONFIG, show_default=True,
              type=click.Path(dir_okay=False), help="The YAML config (sources, sinks, groups).")
@click.option("--once", is_flag=True,
              help="Poll every source once, deliver everything due, then exit "
                   "(0 when everything was delivered, 1 when some deliveries are still open).")
@click.option("--dry-run", is_flag=True,
              help="Print what each group would receive instead of sending it (console sink).")
@click.option("--max-wait", default=60.0, show_default=True, type=float,
              help="With --once: how long to wait for rate-limit pauses and retries, in seconds.")
def run(config_path: str, once: bool, dry_run: bool, max_wait: float) -> None:
    """Run the forwarder: poll sources, classify, route and deliver.

    Without --once it runs until SIGTERM or Ctrl-C, then stops cleanly. Only one run may use a
    database at a time. --dry-run works on a copy of the database and leaves the sources as they
    were (SMS stay unprocessed, the X cursor unmoved): the real run afterwards sees everything.
    """
    import dataclasses
    import tempfile

    from forwarder.pipeline import Pipeline
    from forwarder.sinks.console import Sink as ConsoleSink

    settings = _checked(config_path)
    override = None
    scratch = None
    if dry_run:
        override = {name: ConsoleSink(name) for name in settings.sinks}
        scratch = tempfile.TemporaryDirectory(prefix="forwarder-dry-run-")
        settings = dataclasses.replace(settings, database=_copy_database(settings.database, scratch.name))
        click.echo(f"dry run: nothing is sent or marked; working on a copy of {config_path}'s database",
                   err=True)
    try:
        pipeline = Pipeline.build(settings, sink_override=override)
    except (ModelError, StoreError, LookupError) as exc:
        raise click.ClickException(_with_cwd_hint(str(exc), settings)) from exc
    if once:
        polls, drained = asyncio.run(pipeline.run_once(max_wait_secs=max_wait))
        for p in polls:
            status = f"error: {p.error}" if p.error else f"{p.read} read, {p.stored} new"
            click.echo(f"source {p.source}: {status}", err=True)
        click.echo(f"delivered {drained.sent} message(s); {len(drained.open)} delivery(ies) still open",
                   err=True)
        for d in drained.open[:20]:
            click.echo(f"  open: delivery {d.id} complaint {d.complaint_id} -> {d.group_name} "
                       f"({d.state}; {d.last_error or 'waiting'})", err=True)
        failed_sources = any(p.error for p in polls)
        sys.exit(0 if drained.complete and not failed_sources else 1)
    asyncio.run(_run_forever(pipeline))


def _with_cwd_hint(message: str, settings) -> str:
    """Relative paths in the config are read from the working directory: say so when one failed."""
    from pathlib import Path

    relative = [str(p) for p in (settings.model, settings.database) if not Path(p).is_absolute()]
    if relative and any(r in message for r in relative):
        message += f" (relative paths in the config are read from the directory forwarder runs in: {Path.cwd()})"
    return message


def _checked(config_path: str):
    """The config, refused (exit 2) when ``check-config`` would find a problem in it; the model
    is checked when the pipeline loads it."""
    from forwarder.checks import cross_check

    settings = _load(config_path)
    problems, warnings = cross_check(settings, load_model=False)
    for w in warnings:
        click.echo(f"warning: {w}", err=True)
    if problems:
        click.echo(str(ConfigError(problems, config_path)), err=True)
        sys.exit(2)
    return settings


def _copy_database(database, folder: str):
    """A consistent copy of the forwarder database in ``folder`` (SQLite's backup API)."""
    import sqlite3
    from pathlib import Path

    target = Path(folder) / "forwarder.db"
    if Path(database).exists():
        source = sqlite3.connect(f"{Path(database).resolve().as_uri()}?mode=ro", uri=True)
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
        finally:
            copy.close()
            source.close()
    return target


async def _run_forever(pipeline) -> None:
    """SIGTERM/SIGINT stop the daemon cleanly; SIGHUP loads the model again (systemd:
    ``ExecReload=/bin/kill -HUP $MAINPID``, then ``systemctl reload forwarder``)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    reloads: set[asyncio.Task] = set()  # kept referenced until done

    def reload() -> None:
        task = asyncio.ensure_future(pipeline.reload_model())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, reload)
    await pipeline.run(stop)


@main.command("check-config")
@click.option("--config", "config_path", default=DEFAULT_CONFIG, show_default=True,
              type=click.Path(dir_okay=False))
@click.option("--no-model", is_flag=True, help="Do not load the model to cross-check topics.")
def check_config(config_path: str, no_model: bool) -> None:
    """Report every problem of a config at once, each with its YAML path.

    Also checks the groups against the model (every topic it can emit reaches a group or the
    fallback) and the kecamatan names against the official list of the config's kabupaten.
    Exits 2 when the config is unusable, 0 when it is fine (warnings are printed).
    """
    from forwarder.checks import cross_check

    settings = _load(config_path)
    problems, warnings = cross_check(settings, load_model=not no_model)
    for w in warnings:
        click.echo(f"warning: {w}", err=True)
    if problems:
        click.echo(str(ConfigError(problems, config_path)), err=True)
        sys.exit(2)
    click.echo(f"{config_path}: OK ({len(settings.sources)} source(s), {len(settings.sinks)} sink(s), "
               f"{len(settings.groups)} group(s))")


@main.command()
@click.option("--config", "config_path", default=DEFAULT_CONFIG, show_default=True,
              type=click.Path(dir_okay=False))
@click.option("--fresh", is_flag=True,
              help="Start over: delete the demo's inbox and the config's forwarder database "
                   "(refused for an inbox the demo did not make).")
def demo(config_path: str, fresh: bool) -> None:
    """Run the main job once on the embedded default, no accounts needed.

    Puts the example SMS of examples/demo_sms.yaml into a Gammu SMSD-format inbox (the SQLite
    file the config's gammu_smsd source reads), then runs ``forwarder run --once`` with the
    config: each complaint is classified by the bundled model and printed as the officer group
    would receive it.
    """
    from forwarder.demo import is_demo_inbox, seed_demo_inbox
    from forwarder.pipeline import Pipeline

    settings = _checked(config_path)
    try:
        seeded = seed_demo_inbox(settings, fresh=fresh)
    except (OSError, ValueError, StoreError) as exc:
        raise click.ClickException(str(exc)) from exc
    for path, count in seeded.items():
        again = ("" if count else " (it has them from an earlier demo; `forwarder demo --fresh` starts over)"
                 if is_demo_inbox(Path(path)) else " (it is not the demo's inbox: its own SMS are read as they are)")
        click.echo(f"demo: {count} example SMS put into the Gammu inbox {path}{again}", err=True)
    try:
        pipeline = Pipeline.build(settings)
    except (ModelError, StoreError, LookupError) as exc:
        raise click.ClickException(str(exc)) from exc
    polls, drained = asyncio.run(pipeline.run_once())
    for p in polls:
        click.echo(f"demo: source {p.source}: {p.error or f'{p.read} read, {p.stored} new'}", err=True)
    click.echo(f"demo: {drained.sent} message(s) delivered; the database is {settings.database}", err=True)
    sys.exit(0 if drained.complete else 1)


def _register_optional_commands() -> None:
    """Commands that live next to their subject (classifier, outbox, reports)."""
    import importlib

    for module_name in ("forwarder.classify.cli", "forwarder.admin", "forwarder.report_cli",
                        "forwarder.case_admin"):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        for command in getattr(module, "commands", []):
            main.add_command(command)


_register_optional_commands()


if __name__ == "__main__":  # pragma: no cover
    main()
