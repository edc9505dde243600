"""The `ghlbridge` command line: thin commands over the library."""
