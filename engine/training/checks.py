"""The checks of `train_sweep`'s arguments: each refused with a sentence that says what to change,
before any work."""

from __future__ import annotations

import numbers
from typing import Any

import jax
import numpy as np

MAX_SEED = 2 ** 31  # seeds stay below it, apart from the minibatch stream's fold_in index


def array(value: Any, name: str, ndims: tuple, shape_hint: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a numeric array of shape {shape_hint}.") from None
    if arr.ndim not in ndims:
        raise ValueError(f"{name} must have shape {shape_hint}, got shape {arr.shape}.")
    return arr


def check_finite(arr: np.ndarray, name: str, what: str) -> None:
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} has non-finite values in {what}; remove or replace them.")


def check_data(x_train, y_train, x_val, y_val, x_test, y_test, sizes) -> tuple:
    x = array(x_train, "x_train", (3,), "(S, n_max, d)")
    s_count, n_max, d = x.shape
    if s_count < 1 or n_max < 1 or d < 1:
        raise ValueError(f"x_train must have shape (S, n_max, d) with S, n_max, d >= 1, got "
                         f"{x.shape}.")
    y = array(y_train, "y_train", (2,), f"(S, n_max) = ({s_count}, {n_max})")
    if y.shape != (s_count, n_max):
        raise ValueError(f"y_train must have shape (S, n_max) = ({s_count}, {n_max}) to match "
                         f"x_train, got {y.shape}.")
    xv = array(x_val, "x_val", (3,), f"(S, n_val, d) = ({s_count}, n_val, {d})")
    if xv.shape[0] != s_count or xv.shape[2] != d or xv.shape[1] < 1:
        raise ValueError(f"x_val must have shape (S, n_val, d) = ({s_count}, n_val, {d}) with "
                         f"n_val >= 1 (one validation set per seed), got {xv.shape}.")
    yv = array(y_val, "y_val", (2,), f"(S, n_val) = {xv.shape[:2]}")
    if yv.shape != xv.shape[:2]:
        raise ValueError(f"y_val must have shape (S, n_val) = {xv.shape[:2]}, got {yv.shape}.")
    xt = array(x_test, "x_test", (2, 3), f"(n_test, {d}) or ({s_count}, n_test, {d})")
    if xt.shape[-1] != d or xt.shape[-2] < 1 or (xt.ndim == 3 and xt.shape[0] != s_count):
        raise ValueError(f"x_test must have shape (n_test, {d}) (shared by all runs) or "
                         f"({s_count}, n_test, {d}) (one per seed), got {xt.shape}.")
    yt = array(y_test, "y_test", (xt.ndim - 1,), f"{xt.shape[:-1]}")
    if yt.shape != xt.shape[:-1]:
        raise ValueError(f"y_test must have shape {xt.shape[:-1]} to match x_test, got {yt.shape}.")

    try:
        raw = np.asarray(sizes)
    except (TypeError, ValueError):
        raw = np.asarray([], dtype=object)
    if raw.ndim != 1 or raw.size == 0 or not all(
            isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, bool)
            for v in raw.tolist()):
        raise ValueError(f"sizes must be a non-empty list of whole numbers, e.g. [16, 64, 256], "
                         f"got {sizes!r}.")
    sizes = raw.astype(np.int64)
    if sizes[0] < 1 or np.any(np.diff(sizes) <= 0):
        raise ValueError(f"sizes must be positive and strictly increasing, got {sizes.tolist()}.")
    if sizes[-1] > n_max:
        raise ValueError(f"The largest size {int(sizes[-1])} exceeds the {n_max} training rows "
                         "per seed; give more rows in x_train or smaller sizes.")
    used = int(sizes[-1])
    check_finite(x[:, :used], "x_train", f"its first {used} rows")
    check_finite(y[:, :used], "y_train", f"its first {used} rows")
    for arr, name in ((xv, "x_val"), (yv, "y_val"), (xt, "x_test"), (yt, "y_test")):
        check_finite(arr, name, "it")
    return x, y, xv, yv, xt, yt, sizes


def check_init(init_params, s_count: int, size: int) -> np.ndarray:
    flat = array(init_params, "init_params", (2,), f"(S, P) = ({s_count}, {size})")
    if flat.shape != (s_count, size):
        raise ValueError(f"init_params must have shape (S, P) = ({s_count}, {size}) (one flat "
                         f"parameter vector per seed, as ravel_params gives), got {flat.shape}.")
    check_finite(flat, "init_params", "it")
    return flat


def check_probe(x_probe, s_count: int, d: int) -> np.ndarray | None:
    if x_probe is None:
        return None
    xp = array(x_probe, "x_probe", (2, 3), f"(n_probe, {d}) or ({s_count}, n_probe, {d})")
    if xp.shape[-1] != d or xp.shape[-2] < 1 or (xp.ndim == 3 and xp.shape[0] != s_count):
        raise ValueError(f"x_probe must have shape (n_probe, {d}) (shared by all runs) or "
                         f"({s_count}, n_probe, {d}) (one per seed), got {xp.shape}.")
    check_finite(xp, "x_probe", "it")
    return xp


def check_devices(devices) -> tuple:
    if devices is None:
        return tuple(jax.local_devices())
    devices = tuple(devices)
    if not devices or not all(isinstance(dev, jax.Device) for dev in devices):
        raise ValueError("devices must be a non-empty sequence of jax devices, e.g. "
                         "jax.local_devices().")
    if len(set(devices)) != len(devices):
        raise ValueError("devices lists a device more than once; give each device once.")
    return devices


def check_seeds(seeds, s_count: int) -> np.ndarray:
    if seeds is None:
        return np.arange(s_count)
    values = list(seeds)
    if len(values) != s_count or not all(
            isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, bool)
            for v in values):
        raise ValueError(f"seeds must list {s_count} whole numbers (one per training set), got "
                         f"{seeds!r}.")
    arr = np.asarray(values, dtype=np.int64)
    if arr.min() < 0 or arr.max() >= MAX_SEED or len(set(values)) != s_count:
        raise ValueError(f"seeds must be distinct whole numbers in [0, 2**31), got {values}.")
    return arr

