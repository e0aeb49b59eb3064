"""Job rows: what the API shows of RQ work (state, progress, error), and enqueueing."""
