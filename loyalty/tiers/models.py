"""Tiers: models arrive with their issue."""
