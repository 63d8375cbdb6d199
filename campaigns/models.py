"""Campaigns: models arrive with their issue."""
