"""RQ job entry points. Each takes ids and plain values, reloads its rows and calls domain code."""
