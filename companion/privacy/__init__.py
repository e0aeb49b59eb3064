"""A fan's personal data: export and erasure for WordPress's personal-data tools (docs/analytics.md, Privacy)."""
