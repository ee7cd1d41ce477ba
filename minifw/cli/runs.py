"""``minifw runs`` and ``minifw list``: the runs recorded so far, and the components by name."""

from __future__ import annotations

import argparse

from ..core.activations import Activation
from ..core.initializers import Initializer
from ..core.losses import Loss
from ..core.metrics import Metric
from ..core.optimizers import Optimizer
from ..core.registry import load_plugins
from ..core.schedules import Schedule
from ..core.targets import Target
from ..files.ledger import Ledger, compare, table

# The component families that `minifw list` shows and the flags take by name.
FAMILIES = {
    "activations": Activation,
    "initializers": Initializer,
    "losses": Loss,
    "metrics": Metric,
    "optimizers": Optimizer,
    "schedules": Schedule,
    "targets": Target,
}


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Add ``minifw list`` and ``minifw runs``."""
    commands.add_parser(
        "list",
        help="list every component by name",
        description="List every activation, initializer, loss, metric, optimizer, schedule and "
        "target.",
    ).add_argument(
        "--plugin",
        metavar="FILE",
        dest="plugins",
        action="append",
        default=[],
        help="a Python file to import first",
    )
    ledger = commands.add_parser(
        "runs",
        help="list the runs recorded in the ledger, or compare two",
        description="Every `minifw train` adds a record to RUNS_DIR/ledger.jsonl (--no-record: "
        "none). The table shows each run's settings that differ from the blog's.",
    )
    ledger.add_argument(
        "--runs-dir", default="runs", metavar="DIR", help="where the ledger is (default: runs)"
    )
    which = ledger.add_subparsers(dest="runs_command", metavar="compare")
    pair = which.add_parser("compare", help="configuration differences and loss curves of two")
    pair.add_argument("a", help="a run id or unique prefix")
    pair.add_argument("b", help="another")
    pair.add_argument("--out", "--plot", metavar="PATH", help="overlay their loss curves in a PNG")


def list_components(args: argparse.Namespace) -> int:
    """Run ``minifw list``: every registered component, a line each."""
    load_plugins(args.plugins)
    for kind, base in FAMILIES.items():
        print(f"{kind}:")
        for name in base.registry.names():
            doc = (base.registry.get(name).__doc__ or "").strip().splitlines()
            aliases = base.registry.aliases_of(name)
            also = f" (also: {', '.join(aliases)})" if aliases else ""
            print(f"  {name:<22} {doc[0] if doc else ''}{also}")
    return 0


def runs(args: argparse.Namespace) -> int:
    """Run ``minifw runs``: the ledger as a table, or two runs compared."""
    ledger = Ledger(args.runs_dir)
    if args.runs_command == "compare":
        a, b = ledger.find(args.a), ledger.find(args.b)
        print(compare(a, b))
        if args.out:
            from ..lab.plotting import loss_figure, save_figure

            curves = {a.id: a.loss_history, b.id: b.loss_history}
            figure = loss_figure(curves, title=f"{a.id} against {b.id}")
            print(f"Loss curves written to {save_figure(figure, args.out)}")
        return 0
    records = ledger.records()
    print(table(records) if records else f"No runs recorded in {ledger.path}")
    return 0
