"""Health of the companion's dependencies."""
