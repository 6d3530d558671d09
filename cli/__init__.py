"""The command line: flags and environment read once into settings, the commands, one-line errors
(`main`), and the local runner (`local`)."""
