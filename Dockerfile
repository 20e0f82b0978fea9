# Inductive Bias Lab: the dashboard on http://localhost:8501.
#   docker build -t inductive-bias-lab .
#   docker run -p 8501:8501 inductive-bias-lab
# It writes only to its cache directory, a volume, so it also runs with a read-only root and keeps
# its results across restarts in a named volume:
#   docker run --read-only -v ibl-cache:/app/cache -p 8501:8501 inductive-bias-lab
# CPU by default. On an NVIDIA host, add JAX's CUDA plugin at the pinned JAX version:
#   docker build --build-arg JAX_EXTRA=cuda12 -t inductive-bias-lab:gpu .
#   docker run --gpus all -p 8501:8501 inductive-bias-lab:gpu
# The build fills the result cache (`python -m engine warm`), so every page's default and preset
# views load at once. `make image-test` builds this file with podman and checks the result.
FROM python:3.11-slim

ARG JAX_EXTRA=""

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    XLA_PYTHON_CLIENT_PREALLOCATE=false \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false \
    STREAMLIT_SERVER_HEADLESS=true \
    IBL_CACHE_DIR=/app/cache \
    IBL_WARM=0

# A non-root user. The code stays root's (read-only to the app); the user owns only the cache
# (results, and JAX's compiled programs under $IBL_CACHE_DIR/jax), filled at build and run time.
RUN groupadd --gid 10001 lab \
    && useradd --uid 10001 --gid lab --no-log-init --create-home --shell /usr/sbin/nologin lab \
    && mkdir -p /app/cache \
    && chown lab:lab /app/cache

WORKDIR /app

COPY requirements.txt ./
# With JAX_EXTRA set, add jax[<extra>] at exactly the JAX version just installed from the pins.
RUN pip install --no-cache-dir -r requirements.txt \
    && if [ -n "$JAX_EXTRA" ]; then \
        jax_version="$(python -c 'import importlib.metadata as m; print(m.version("jax"))')" \
        && pip install --no-cache-dir "jax[${JAX_EXTRA}]==${jax_version}"; \
    fi

USER 10001:10001

# Warm the cache as the user who serves it, so its files stay writable at run time. The warm step
# needs only the engine, so it comes before the rest of the app: a change to the pages or the UI
# reuses this layer, a change to the engine (which invalidates the cache's keys) re-runs it. It runs
# on the CPU (there is no GPU at build time); the results are the same for a CUDA image.
COPY engine/ ./engine/
RUN JAX_PLATFORMS=cpu python -m engine warm

# .dockerignore lets through only what the app runs: requirements.txt, app.py, serve.py,
# healthcheck.py, engine/, app_pages/, ui/, figures/, .streamlit/ (those present).
COPY . ./

# The only place the app writes (results, compiled programs, lock files). A volume, so a container
# with a read-only root still works, and a named volume keeps the cache across containers; a new
# volume starts as a copy of the warmed cache above.
VOLUME ["/app/cache"]

EXPOSE 8501

# Healthy when the server answers /_stcore/health and serves /, and the cache is writable
# (healthcheck.py says which check failed).
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "healthcheck.py"]

# serve.py is `streamlit run app.py` plus what a page cannot do itself (a link too long to read is
# named to the visitor; the engine loaded before the first visit). Its background warm is off here
# (IBL_WARM=0 above): the build has warmed every view already.
ENTRYPOINT ["python", "serve.py", "--server.port=8501", "--server.address=0.0.0.0"]
