"""Rigs that run the whole system for tests and benchmarks: a secured broker, real centre
processes, killable nodes (`delivery`), a simulated fleet (`fleet`). Never imported by the
running product."""
