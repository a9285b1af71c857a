"""Model loaders used by the tests through FPX_MODELS / Settings.models."""

from __future__ import annotations

import threading

calls: list[str] = []


def load_double():
    def double(x: float) -> float:
        calls.append(threading.current_thread().name)
        return 2 * x

    return double


def load_async_square():
    async def square(x: float) -> float:
        return x * x

    return square


async def load_async_loader():
    return lambda x: x + 1


def load_broken():
    raise RuntimeError("weights file missing")


def load_not_callable():
    return 42


class Closable:
    closed = False

    def __call__(self, x: float) -> float:
        return -x

    def close(self) -> None:
        Closable.closed = True


def load_closable():
    return Closable()


class FailingClose:
    def __call__(self, x: float) -> float:
        return x

    def close(self) -> None:
        raise RuntimeError("handle already gone")


def load_failing_close():
    return FailingClose()


class AsyncClosable:
    closed = False

    def __call__(self, x: float) -> float:
        return x

    async def close(self) -> None:
        AsyncClosable.closed = True


def load_async_closable():
    return AsyncClosable()


def load_slow():
    # A loader that hangs (reading weights from a dead disk, say); tests stop the server first.
    import time

    time.sleep(120)
    return lambda x: x


# Models that fail on some inputs (tests/reliability/test_models.py).
def load_exp():
    import math

    return math.exp


def load_reciprocal():
    return lambda x: 1 / x


def load_sqrt():
    import math

    return math.sqrt


def load_broken_predict():
    def broken(x: float) -> float:
        raise RuntimeError("weights corrupt")

    return broken


def load_async_broken_predict():
    async def broken(x: float) -> float:
        raise KeyError("layer")

    return broken


def load_wrong_type():
    return lambda x: "forty-two"
