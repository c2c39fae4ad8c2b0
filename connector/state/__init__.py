"""Durable connector state: checkpoints, dedupe keys, write intents, source health."""
