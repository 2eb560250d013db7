"""Git hook entry points and their installation."""
