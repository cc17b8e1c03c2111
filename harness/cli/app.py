"""The `ivr-harness` group and the one place the CLI enters asyncio.

Exit codes everywhere: 0 all held, 1 a check failed (the system under test is
wrong), 2 the harness could not run (bad input, unreachable server, usage).
Command modules import nothing heavy at module level, so `--help` and
`--version` start in tens of milliseconds; each command imports its engine
when it runs.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import os
import signal
import sys
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import click

from harness import __version__
from harness.errors import HarnessError

__all__ = [
    "STOP_SIGNALS",
    "Interrupted",
    "finishing",
    "interrupted",
    "main",
    "program",
    "run_async",
    "serve_until_stopped",
    "stop_signals",
]

T = TypeVar("T")


class _Group(click.Group):
    """Turns every HarnessError into one line on stderr and exit code 2, and every stop
    signal into exit code 128 + its number, for every command (see :func:`stop_signals`)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with stop_signals():
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

    Exit codes: 0 all held, 1 a check failed, 2 the harness could not run, 128 + N
    stopped by signal N (SIGINT, SIGTERM, SIGHUP, SIGQUIT) after its cleanup.
    """


def program() -> None:
    """The process's entry point: `ivr-harness`, `python -m harness`, `python -m harness.cli`.

    Once a command has ended (or, inside it, :func:`finishing` began) its result is
    final. A stop signal that lands while the reports are written or the interpreter
    shuts down (a pool joining its workers, modules torn down) would cut the reports
    short or kill the process by the default action, exit -N, after its reports said it
    finished (bench/interrupt_soak.py: 5 tries in 320). So the first such signal is
    absorbed and the process exits with the command's own code; the default action is
    back for the next one, which still stops a shutdown that hangs. The interpreter's
    very last teardown, after every atexit hook, puts every handler back to the default
    action: the stop signals are ignored from there on.
    """
    _program[0] = True
    atexit.register(_ignore_stop_signals)  # registered first, so it runs last
    main()


def _ignore_stop_signals() -> None:
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


@contextlib.contextmanager
def finishing() -> Iterator[None]:
    """The command's result is final from here on: it writes its reports. A stop signal
    meanwhile is noted and absorbed (see :func:`program`), never raised half-way through
    a report; the command exits with its own code."""
    _final[0] = True
    try:
        yield
    finally:
        _final[0] = _program[0]


@contextlib.contextmanager
def holding() -> Iterator[None]:
    """A step a stop signal must not cut in half (a report folder and its first files
    being created): a signal meanwhile is noted, and raised as :class:`Interrupted` when
    the step is done, so what it made is there for the command to mark incomplete."""
    _held[0] = True
    try:
        yield
    finally:
        _held[0] = False
    if _received and not _raised[0] and not _final[0]:
        _raised[0] = True
        raise Interrupted(_received[0])


class Interrupted(KeyboardInterrupt):
    """A signal stopped the run after its cleanup ran; exit code 128 + the signal number."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.signame = signal.Signals(signum).name
        self.exit_code = 128 + signum
        super().__init__(self.signame)


# Every signal a CI runner or a terminal sends to stop a job. Each stops the command the
# same way, so every proxy, toxic and server it created is removed on the way out and
# the reports of what finished are written.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)

# The stop signals received since the command started. Only the first one interrupts;
# later ones are noted and never break into the cleanup the first one started.
_received: list[int] = []
_raised: list[bool] = [False]
# How soon a stop swallowed in a finalizer is delivered again.
_REDELIVER_S = 0.01
# Whether this process is the command line itself (:func:`program`), not a test calling it.
_program: list[bool] = [False]
# Whether the command's result is final (its reports being written, or it has ended).
_final: list[bool] = [False]
# Whether a step that must not be cut in half is under way (:func:`holding`).
_held: list[bool] = [False]


def _interrupt(signum: int, frame: FrameType | None) -> None:
    if _final[0]:  # absorbed; the next one takes the default action
        signal.signal(signum, signal.SIG_DFL)
        return
    _received.append(signum)
    if not _raised[0] and not _held[0]:  # held: raised when the step is done
        _raised[0] = True
        raise Interrupted(_received[0])


def _swallowed(unraisable: Any, previous: Any) -> None:
    """A signal handler runs wherever the interpreter is, a finalizer (``__del__``, a GC
    callback) included, and Python only prints what is raised there ("Exception ignored
    in ..."). Such an Interrupted never reached the command: send the signal again, a
    moment later, and keep the traceback out of the output."""
    if isinstance(unraisable.exc_value, Interrupted):
        _raised[0] = False
        signum = unraisable.exc_value.signum
        threading.Timer(_REDELIVER_S, os.kill, (os.getpid(), signum)).start()
        return
    previous(unraisable)


@contextlib.contextmanager
def stop_signals() -> Iterator[None]:
    """The one signal path of every command: SIGINT, SIGTERM, SIGHUP and SIGQUIT.

    Outside an event loop the first of them raises :class:`Interrupted` where the command
    is (a command that keeps partial results catches it, writes them and re-raises);
    inside :func:`run_async` it cancels the work, whose cleanup runs, and
    :class:`Interrupted` is raised when the cleanup is done. Later signals are noted
    and ignored. Outside the main thread (a test's runner thread) nothing is installed.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    hook = sys.unraisablehook
    _received.clear()
    _raised[0] = False
    _final[0] = False
    _held[0] = False
    for signum in STOP_SIGNALS:
        signal.signal(signum, _interrupt)
    sys.unraisablehook = functools.partial(_swallowed, previous=hook)
    try:
        yield
    finally:
        if not _program[0]:  # the command line keeps absorbing until it exits
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        _final[0] = _program[0]
        sys.unraisablehook = hook


def interrupted() -> Interrupted | None:
    """The stop signal received so far in this command, as the exception to raise."""
    return Interrupted(_received[0]) if _received else None


def run_async(work: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run`, with SIGINT, SIGTERM, SIGHUP and SIGQUIT cancelling the work.

    The first signal cancels it; later ones are noted but do not interrupt the cleanup
    under way. The caller gets :class:`Interrupted` once the cleanup is done, even when
    the work swallowed the cancellation and returned. Work is never started after a
    stop signal has arrived.
    """
    if _received:
        work.close()
        raise Interrupted(_received[0])

    async def guarded() -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()

        def stop(signum: int) -> None:
            if not _received and task is not None:
                task.cancel()
            _received.append(signum)

        main = threading.current_thread() is threading.main_thread()
        previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
        if main:
            for signum in STOP_SIGNALS:
                loop.add_signal_handler(signum, stop, signum)
        try:
            return await work
        finally:
            if _received:
                await _let_cleanup_finish()
            if main:
                for signum in STOP_SIGNALS:
                    loop.remove_signal_handler(signum)
                    # remove_signal_handler leaves SIG_DFL: put back the command's handler
                    signal.signal(signum, previous[signum])

    try:
        result = asyncio.run(guarded())
    except asyncio.CancelledError:
        if _received:
            raise Interrupted(_received[0]) from None
        raise
    if _received:
        raise Interrupted(_received[0])
    return result


# How long an interrupted command waits for tasks still cleaning up before asyncio.run
# cancels them (a proxy deleted on a slow server, a server shutting down).
_CLEANUP_GRACE_S = 30.0


async def _let_cleanup_finish() -> None:
    """Wait for the other tasks of an interrupted command to end on their own.

    A task whose group gave up on it (``asyncio.gather`` returns at the first cancelled
    child) may still be removing its proxies; asyncio.run would cancel it mid-way.
    """
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    if not others:
        return
    _, pending = await asyncio.wait(others, timeout=_CLEANUP_GRACE_S)
    if pending:
        # The user waited the whole grace: say for what, so it can be found and fixed.
        waiting = "; ".join(sorted(_where(task) for task in pending))
        click.echo(
            f"ivr-harness: stopped waiting after {_CLEANUP_GRACE_S:g} s for "
            f"{len(pending)} task(s) still running: {waiting}",
            err=True,
        )


def _where(task: asyncio.Task[Any]) -> str:
    """Where a task is suspended: each coroutine it awaits through, with its line."""
    coro: Any = task.get_coro()
    chain = []
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            name = getattr(coro, "__qualname__", frame.f_code.co_name)
            chain.append(f"{name} ({Path(frame.f_code.co_filename).name}:{frame.f_lineno})")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return " > ".join(chain) or repr(task)


def serve_until_stopped(work: Coroutine[Any, Any, None]) -> None:
    """Run a server coroutine until a stop signal; it shuts down cleanly, then the command
    exits 128 + the signal's number like every other one (`toxiproxy serve`, `backend
    serve`)."""
    run_async(work)
