"""Which JAX backend the engine runs on, for pages that must not import JAX themselves.

The dashboard's pages never import `jax` (see `shared/STYLE.md`); the landing page still tells the
visitor whether the kernels are computed on a CPU or a GPU. `backend_summary` is that one call.
"""

from __future__ import annotations

from collections import Counter

import jax


def backend_summary() -> dict:
    """The default JAX backend and its devices, as plain JSON-serialisable Python values.

    Returns a dict with keys

    - `backend`: `jax.default_backend()`, e.g. `"cpu"`, `"gpu"` or `"tpu"`;
    - `device_count`: number of devices on that backend (`len(jax.devices())`);
    - `device_kinds`: `{device_kind: count}`, e.g. `{"cpu": 1}` or `{"NVIDIA H100 80GB HBM3": 1}`;
    - `jax_version`: `jax.__version__`;
    - `x64`: whether float64 is enabled (`jax_enable_x64`; importing `engine` turns it on).

    Cheap after the first call in a process (the first one initialises the backend).

    >>> summary = backend_summary()
    >>> sorted(summary)
    ['backend', 'device_count', 'device_kinds', 'jax_version', 'x64']
    """
    devices = jax.devices()
    kinds = Counter(str(device.device_kind) for device in devices)
    return {
        "backend": str(jax.default_backend()),
        "device_count": len(devices),
        "device_kinds": dict(kinds),
        "jax_version": str(jax.__version__),
        "x64": bool(jax.config.jax_enable_x64),
    }
