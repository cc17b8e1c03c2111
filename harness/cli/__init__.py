"""The `ivr-harness` command line: one group, a module per family of commands.

- :mod:`harness.cli.app`: the group, exit codes, the asyncio edge;
- :mod:`harness.cli.options`: option blocks every command shares;
- :mod:`harness.cli.run`: `call`, `suite`, `chaos`; :mod:`harness.cli.load`: `load`;
- :mod:`harness.cli.static`: `lint`, `budget`;
- :mod:`harness.cli.gate`: `contract`, `provider`, `gate`, `diff`;
- :mod:`harness.cli.servers`: `toxiproxy serve`, `backend serve`;
- :mod:`harness.cli.examples`: `examples`;
- :mod:`harness.cli.reports`: `report merge`;
- :mod:`harness.cli.mutate`: `mutate`;
- :mod:`harness.cli.init`: `init` (a starting ivr-harness.toml, workflow, first scenario);
- :mod:`harness.cli.platform`: `pull`, `deploy`, `drift` (through the tenant's Flow API);
- :mod:`harness.cli.project`: what `suite`, `chaos` and `load` take from the project config.
"""

from __future__ import annotations

from harness.cli.app import main, program, run_async
from harness.cli.examples import examples
from harness.cli.gate import contract, diff, gate, provider
from harness.cli.init import init
from harness.cli.load import load
from harness.cli.mutate import mutate
from harness.cli.platform import deploy, drift, pull
from harness.cli.reports import report
from harness.cli.run import call, chaos, suite
from harness.cli.servers import backend, toxiproxy
from harness.cli.static import budget, lint

__all__ = ["main", "program", "run_async"]

for _command in (
    call, suite, chaos, load, lint, budget, contract, provider, gate, diff, toxiproxy, backend,
    examples, report, mutate, init, pull, deploy, drift,
):  # fmt: skip
    main.add_command(_command)
