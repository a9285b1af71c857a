"""Side-by-side benchmarks of fpx against the tools and apps people use instead (`make bench`)."""
