# Inductive Bias Lab: the dashboard on http://localhost:8501.
#   docker build -t inductive-bias-lab .
#   docker run -p 8501:8501 inductive-bias-lab
# CPU by default. On an NVIDIA host, add JAX's CUDA plugin at the pinned JAX version:
#   docker build --build-arg JAX_EXTRA=cuda12 -t inductive-bias-lab:gpu .
#   docker run --gpus all -p 8501:8501 inductive-bias-lab:gpu
FROM python:3.11-slim

ARG JAX_EXTRA=""

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    XLA_PYTHON_CLIENT_PREALLOCATE=false \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false \
    STREAMLIT_SERVER_HEADLESS=true

# A non-root user that owns /app, so caches the app writes beside itself (e.g. JAX's) work.
RUN groupadd --gid 10001 lab \
    && useradd --uid 10001 --gid lab --create-home lab \
    && mkdir /app \
    && chown lab:lab /app

WORKDIR /app

COPY requirements.txt ./
# With JAX_EXTRA set, add jax[<extra>] at exactly the JAX version just installed from the pins.
RUN pip install -r requirements.txt \
    && if [ -n "$JAX_EXTRA" ]; then \
        jax_version="$(python -c 'import importlib.metadata as m; print(m.version("jax"))')" \
        && pip install "jax[${JAX_EXTRA}]==${jax_version}"; \
    fi

# .dockerignore lets through only what the app runs: app.py, engine/, pages/ (when present).
COPY --chown=10001:10001 . ./

USER 10001:10001

EXPOSE 8501

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request, sys; sys.exit(0 if urllib.request.urlopen('http://localhost:8501/_stcore/health', timeout=4).read() == b'ok' else 1)"]

ENTRYPOINT ["streamlit", "run", "app.py", "--server.port=8501", "--server.address=0.0.0.0"]
