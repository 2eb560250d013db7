"""The Git layer: the repository (the only pygit2 importer), notes, remotes, signatures."""
