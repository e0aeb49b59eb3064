"""The band members' algorithms (their musical personalities) and instrument definitions.

See docs/algorithms.md for the interface and each personality, docs/instrument-definition.md
for the instrument files.
"""
