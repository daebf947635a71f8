"""Scenarios: years ahead as validated YAML (levers, demand, pipeline, uncertainty)."""
