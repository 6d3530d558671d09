"""`image-pipeline`: run the pipeline, ingest data, predict, evaluate a pushed model, report on a run,
compile for Kubeflow.

The flags are cli/arguments.py's, what each command does cli/commands.py's, what it prints while
it works cli/logs.py's. Wrong arguments or paths print one line, `image-pipeline: error: ...`, and
exit with code 2.
"""
from __future__ import annotations

import sys
from typing import Optional, Sequence

from cli import arguments, commands, logs
from modules.errors import InputError


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logs.quiet_native_logs(argv)
    logs.configure(verbose="--verbose" in argv)
    try:
        command = argv[0] if argv and argv[0] in commands.COMMANDS else None  # the top level has no other arguments
        args = arguments.build_parser(command=command).parse_args(argv)
        return commands.COMMANDS[args.command](args)
    except (arguments.UsageError, InputError) as e:
        print(f"{arguments.PROG}: error: {e}", file=sys.stderr)
        return commands.USAGE_ERROR


if __name__ == "__main__":
    sys.exit(main())
