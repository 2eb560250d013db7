"""The DVC layer: pins read from Git, the DVC cache and remotes, data diffs."""
