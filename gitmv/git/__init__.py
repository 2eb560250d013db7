"""The Git layer: the repository (the only pygit2 importer), notes, remotes, signatures."""

# Set by our own programs (the CLI process, the server hook) before the repository module is
# imported: they reach remotes only through git itself, never through libgit2's transports, so
# pygit2's import need not load the system's CA certificates into libgit2 (gitmv.git.repo).
# A caller of the Python API owns its process and may use pygit2's HTTPS: it keeps the default.
LIBGIT2_TLS_UNUSED = False
