"""`git mv-promote` command line: the click group and `main`, the one exit-code mapping.

The commands live in `gitmv.cli.commands` (one module per family: options, the call into
`gitmv.api`/`gitmv.ops`, the rendering through `gitmv.output`); the names on the command line are
checked once by the parameter types of `gitmv.cli.params`. Exit codes are decided in `main` alone:
0 ok, 1 the user's or the repository's fault, 2 usage, 3 a bug. Nothing here imports pygit2 at
import time, so `--help` stays fast.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys

import click

from gitmv import output
from gitmv.cli.commands import (CONTEXT, attest, audit, evidence, get, gto_import, inspect, lifecycle, promote, register, replay,
                                 report, request, setup, sync, verify)
from gitmv.errors import EXIT_BUG, EXIT_FAULT, EXIT_OK, EXIT_USAGE, MvError
from gitmv.ops import run_as_program

FAMILIES = (setup, register, inspect, verify, evidence, replay, promote, request, sync, get, lifecycle, report, gto_import, attest,
            audit)


@click.group(context_settings=CONTEXT, commands=[c for family in FAMILIES for c in family.COMMANDS])
@click.version_option(package_name="git-mv-promote", prog_name="git mv-promote")
def cli():
    """A Git-native model registry and promotion gate.

    \b
    A model version is a signed annotated tag refs/tags/mv/<model>/v<N> carrying its full record
    (code commit, data pins, dependency lock digest, params, seeds, artifact sha256s). Eval reports,
    approvals and deprecations are TOML notes in refs/notes/mv-promote. Promotion and rollback are
    signed stage tags refs/tags/mv/<model>/<stage>/<seq>. The gate and the stages come from
    .mv-promote.toml, committed at the repository root.

    \b
    Typical loop:
      git mv-promote init --model churn --artifact model.bin --add-signer
      git mv-promote register churn -m "retrained on November data"
      git mv-promote eval churn v1
      git mv-promote check churn v1 --stage production
      git mv-promote promote churn v1 --stage production -m "beats v0 on holdout"

    Exit codes: 0 ok, 1 refused or the repository's fault (one-line cause and fix), 2 usage, 3 bug.
    """


# ---------------------------------------------------------------- entry point

def main(argv: list[str] | None = None) -> None:
    program = argv is None  # the `git-mv-promote` process itself, not a caller passing arguments
    if program:
        # A command is a short process whose objects (thousands of parsed records, the imported
        # modules) live until it exits and hold no garbage cycles worth collecting: the cyclic
        # collector's passes, and its last one over everything at exit, were 10-20 ms of a read's
        # ~110 (docs/benchmarks.md, issue 19). Memory measured unchanged at 50,000 versions.
        gc.disable()
        run_as_program()  # only the program forks helpers, and its pygit2 loads no CA bundle
    for stream in (sys.stdout, sys.stderr):
        try:  # a terminal that cannot show "≥" or "✅" gets "?" rather than a crash
            stream.reconfigure(errors="replace")  # type: ignore[union-attr]  # (a replaced stream may lack it)
        except (AttributeError, ValueError):
            pass
    try:
        completing = "_GIT_MV_PROMOTE_COMPLETE" in os.environ
        code = cli.main(args=argv, prog_name="git-mv-promote" if completing else "git mv-promote",
                        complete_var="_GIT_MV_PROMOTE_COMPLETE", standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.exceptions.Abort:
        output.error("aborted")
        code = 130
    except click.UsageError as exc:
        exc.show()
        code = EXIT_USAGE
    except click.ClickException as exc:
        exc.show()
        code = EXIT_FAULT
    except MvError as exc:
        output.error(f"error: {exc.cause}")
        if exc.fix:
            output.error(f"  fix: {exc.fix}")
        code = exc.exit_code
    except KeyboardInterrupt:
        output.error("interrupted")
        code = 130
    except BrokenPipeError:
        code = EXIT_OK
    except SystemExit:
        # click answers a closed pipe (EPIPE) with exit 1, after wrapping the streams so that
        # nothing more is written to them; `git mv-promote log | head` is not a fault
        if not isinstance(sys.stdout, click.utils.PacifyFlushWrapper):
            raise
        code = EXIT_OK
    except Exception:  # a bug: keep the traceback, tell where it is
        import tempfile  # only on a crash: every command pays for what is imported at the top
        import traceback

        fd, log_path = tempfile.mkstemp(prefix="git-mv-promote-crash-", suffix=".log")
        with os.fdopen(fd, "w") as fh:
            traceback.print_exc(file=fh)
        output.error(f"bug: git mv-promote crashed ({sys.exc_info()[1]!r}); traceback in {log_path} — please report it")
        code = EXIT_BUG
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):  # the reader went away after the last write
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = EXIT_OK
    code = code if isinstance(code, int) else EXIT_OK
    if program:
        # The process ends here. Its exit work (the record cache's one write, and any a library
        # registered) runs as at any exit; the interpreter's teardown after it, freeing every
        # module and parsed record one by one, is skipped: the OS takes the memory back at once
        # (~4 ms a command, same-run A/B; docs/design.md). Nothing is left unwritten:
        # the streams were flushed above and every file we write is closed where it is written.
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):  # anything an exit handler wrote
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    main()
