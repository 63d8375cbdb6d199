"""Rewards: models arrive with their issue."""
