"""Provenance and compliance: origin through the flows, verdicts under China 2025 and the US EAR."""
