"""One cached function per page's computation: a spec in, a small result dataclass of numpy arrays
out. Each page module lists its default and preset specs in `WARM`, which `python -m engine warm`
computes ahead of time (the Docker image does so at build time)."""
