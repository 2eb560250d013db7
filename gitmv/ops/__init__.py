"""The operations behind each command: plain data out, nothing printed."""
