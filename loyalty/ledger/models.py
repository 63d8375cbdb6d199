"""Points ledger: models arrive with their issue."""
