"""A local fake GitHub (real HTTP on 127.0.0.1) for tests and benchmarks; never the network."""
