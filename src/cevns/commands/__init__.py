"""Subcommands of the cevns CLI that live in their own modules (each has ``register(app)``)."""
