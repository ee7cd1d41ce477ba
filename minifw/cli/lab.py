"""``minifw lab``: the live lab in the browser (``minifw.lab.web``), served on 127.0.0.1."""

from __future__ import annotations

import argparse

# The port asked for by default; when it is taken, any free one (another lab may hold it).
DEFAULT_PORT = 8765


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add ``minifw lab`` and its flags."""
    lab = commands.add_parser(
        "lab",
        help="turn a knob and watch the network learn, live, in the browser",
        description="Serve the lab on 127.0.0.1 and open it in the browser: every setting of a "
        "run as a control, training streamed live, several seeds at once, pinned runs to "
        "compare. The address carries a random token that every request needs.",
    )
    lab.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"the port to listen on (default: {DEFAULT_PORT}, or a free one if it is taken; "
        "0: any free port)",
    )
    lab.add_argument("--no-browser", action="store_true", help="print the address only")
    lab.add_argument(
        "--plugin",
        metavar="FILE",
        dest="plugins",
        action="append",
        default=[],
        help="a Python file to import first, so that its components appear in the menus "
        "(repeat for more); the page itself can load none",
    )
    lab.add_argument(
        "--runs-dir", default="runs", metavar="DIR", help="where pinned runs are recorded"
    )


def run(args: argparse.Namespace) -> int:
    """Serve the lab until Ctrl-C."""
    # Imported here: the web server's modules (http.server, email, ssl) would slow the start
    # of every other minifw command.
    from ..lab.web.server import serve

    return serve(
        args.port,
        any_port_if_taken=args.port == DEFAULT_PORT,
        open_browser=not args.no_browser,
        plugins=tuple(args.plugins),
        runs_dir=args.runs_dir,
    )
