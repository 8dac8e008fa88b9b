"""The code-location-load baseline: a Definitions with nothing in it."""

import dagster as dg

defs = dg.Definitions()
