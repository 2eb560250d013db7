"""The operations behind each command: plain data out, nothing printed."""


def allow_helper_processes() -> None:
    """The CLI program lets operations fork helpers (`gitmv.proc.allow_helpers`)."""
    from gitmv import proc

    proc.allow_helpers()
