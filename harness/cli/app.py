"""The `ivr-harness` group and the one place the CLI enters asyncio.

Exit codes everywhere: 0 all held, 1 a check failed (the system under test is
wrong), 2 the harness could not run (bad input, unreachable server, usage).
Command modules import nothing heavy at module level, so `--help` and
`--version` start in tens of milliseconds; each command imports its engine
when it runs.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any, TypeVar

import click

from harness import __version__
from harness.errors import HarnessError

__all__ = ["STOP_SIGNALS", "Interrupted", "main", "run_async", "serve_until_stopped"]

T = TypeVar("T")


class _Group(click.Group):
    """Turns every HarnessError into one line on stderr and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HarnessError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(2)
        except Interrupted as exc:
            click.echo(f"interrupted by {exc.signame}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ivr-harness")
def main() -> None:
    """Contract-testing and chaos harness for CXone Studio IVR integrations.

    Exit codes: 0 all held, 1 a check failed, 2 the harness could not run.
    """


class Interrupted(KeyboardInterrupt):
    """A signal stopped the run after its cleanup ran; exit code 128 + the signal number."""

    def __init__(self, signum: int) -> None:
        self.signame = signal.Signals(signum).name
        self.exit_code = 128 + signum
        super().__init__(self.signame)


# Every signal a CI runner or a terminal sends to stop a job. Each cancels the run, so
# every proxy, toxic and server it created is removed on the way out.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


def run_async(work: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run`, with SIGINT, SIGTERM, SIGHUP and SIGQUIT cancelling the work.

    The first signal cancels it; later ones are noted but do not interrupt the cleanup
    under way. The caller gets :class:`Interrupted` once the cleanup is done.
    """
    received: list[int] = []

    async def guarded() -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()

        def stop(signum: int) -> None:
            if not received and task is not None:
                task.cancel()
            received.append(signum)

        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, stop, signum)
        try:
            return await work
        finally:
            for signum in STOP_SIGNALS:
                loop.remove_signal_handler(signum)

    try:
        return asyncio.run(guarded())
    except asyncio.CancelledError:
        if received:
            raise Interrupted(received[0]) from None
        raise


def serve_until_stopped(work: Coroutine[Any, Any, None]) -> None:
    """Run a server coroutine until Ctrl-C or SIGTERM; either is a clean stop (exit 0)."""

    async def guarded() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        if task is not None:
            loop.add_signal_handler(signal.SIGTERM, task.cancel)
        try:
            await work
        except asyncio.CancelledError:
            return

    try:
        asyncio.run(guarded())
    except KeyboardInterrupt:
        click.echo("stopped", err=True)
