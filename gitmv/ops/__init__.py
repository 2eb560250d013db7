"""The operations behind each command: plain data out, nothing printed."""


def run_as_program() -> None:
    """What the CLI program, and no caller of the Python API, settles before its first operation:
    operations may fork helpers (`gitmv.proc.allow_helpers`), and pygit2 is imported without
    loading the system's CA certificates, since the program reaches remotes only through git
    (`gitmv.git.LIBGIT2_TLS_UNUSED`)."""
    import gitmv.git
    from gitmv import proc

    proc.allow_helpers()
    gitmv.git.LIBGIT2_TLS_UNUSED = True
