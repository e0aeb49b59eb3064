"""One module per member personality (Crash's drums and bass, Ivory's keys and synth share one)."""
