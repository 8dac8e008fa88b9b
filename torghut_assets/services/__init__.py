"""Use cases: plain functions over ledger connections, venues and domain types; no Dagster here."""
