"""Subcommands of ``inferencepool-webhook``; each has ``register(subparsers)``."""
