"""The ML model registry: loaders run once at start-up, predict callables served afterwards.

A model is configured as `name=module:attr`. `module:attr` is a loader: called once, with no
arguments, it returns the predict callable (float -> float, plain or async). A plain loader or
callable is run in a worker thread so a heavy model cannot block the event loop, unless it is
marked cheap with `inline_model`, as the built-in one and its loader are: x * 42 is not worth a
thread hop, and loading it is not worth starting the thread pool for.
"""

from __future__ import annotations

import inspect
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from anyio import to_thread

from server.settings import ModelSpec, resolve

log = logging.getLogger("fpx.models")

BUILTIN_MODEL = "answer_to_everything"
BUILTIN_SPEC = ModelSpec(name=BUILTIN_MODEL, loader="server.registry:load_answer_to_everything")

F = TypeVar("F", bound=Callable[..., Any])
Predict = Callable[[float], float] | Callable[[float], Awaitable[float]]


def inline_model(fn: F) -> F:
    """Mark a plain predict callable, or loader, as cheap enough to run on the event loop."""
    fn.fpx_inline = True  # type: ignore[attr-defined]
    return fn


def is_inline(fn: object) -> bool:
    """Whether `fn` was marked with `inline_model`."""
    return bool(getattr(fn, "fpx_inline", False))


@inline_model
def answer_to_everything(x: float) -> float:
    return x * 42


@inline_model
def load_answer_to_everything() -> Predict:
    return answer_to_everything


class ModelLoadError(RuntimeError):
    """A configured model could not be imported or loaded."""

    def __init__(self, spec: ModelSpec, reason: str) -> None:
        super().__init__(f"model {spec.name!r} ({spec.loader}) failed to load: {reason}")
        self.spec = spec


class ModelInputError(Exception):
    """A model refused an input: it raised ValueError or ArithmeticError (math.exp at 1000,
    1/x at 0), or gave a non-finite result. The client's x is out of that model's range."""

    def __init__(self, model: str, x: float, reason: str) -> None:
        super().__init__(f"model {model!r} {reason}")
        self.model = model
        self.x = x


class ModelFailedError(RuntimeError):
    """A model failed on an input in any other way: a fault of the model, not of the input."""

    def __init__(self, model: str, reason: str) -> None:
        super().__init__(f"model {model!r} failed: {reason}")
        self.model = model


class UnknownModelError(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"model {name!r} not found")
        self.name = name


@dataclass(slots=True)
class LoadedModel:
    name: str
    loader: str
    predict_fn: Predict
    loaded_at: datetime
    load_ms: float
    is_async: bool = field(init=False)
    inline: bool = field(init=False)

    def __post_init__(self) -> None:
        # A callable instance is async when its __call__ is.
        call = self.predict_fn if inspect.isroutine(self.predict_fn) else self.predict_fn.__call__
        self.is_async = inspect.iscoroutinefunction(call)
        self.inline = is_inline(self.predict_fn)

    async def predict(self, x: float) -> float:
        """The model's result for x: ModelInputError when it refuses x, ModelFailedError when
        it breaks otherwise, both naming the model."""
        try:
            if self.is_async:
                result: Any = await self.predict_fn(x)  # type: ignore[misc]
            elif self.inline:
                result = self.predict_fn(x)
            else:
                result = await to_thread.run_sync(self.predict_fn, x)
        except (ValueError, ArithmeticError) as exc:
            raise ModelInputError(self.name, x, f"refuses this x: {_named(exc)}") from exc
        except Exception as exc:
            raise ModelFailedError(self.name, _named(exc)) from exc
        try:
            value = float(result)
        except OverflowError:  # an int too large for a float
            value = math.inf
        except (TypeError, ValueError) as exc:
            raise ModelFailedError(
                self.name, f"it returned {type(result).__name__}, not a number"
            ) from exc
        if not math.isfinite(value):
            raise ModelInputError(self.name, x, "gives a non-finite result for this x")
        return value


def _named(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _resolve(loader: str) -> Callable[[], Any]:
    obj = resolve(loader)
    if not callable(obj):
        raise TypeError(f"{loader} is not callable")
    return obj


class ModelRegistry:
    """Loaded models by name. Filled by `load` at start-up, emptied by `clear` at shut-down."""

    def __init__(self) -> None:
        self._models: dict[str, LoadedModel] = {}

    def __contains__(self, name: str) -> bool:
        return name in self._models

    def __len__(self) -> int:
        return len(self._models)

    def names(self) -> list[str]:
        return list(self._models)

    def models(self) -> list[LoadedModel]:
        return list(self._models.values())

    def get(self, name: str) -> LoadedModel:
        try:
            return self._models[name]
        except KeyError:
            raise UnknownModelError(name) from None

    async def load(self, specs: Iterable[ModelSpec]) -> None:
        """Load each model once; the first failure stops start-up with the model named."""
        for spec in specs:
            if spec.name in self._models:
                raise ModelLoadError(spec, "a model of that name is already loaded")
            started = time.perf_counter()
            try:
                loader = _resolve(spec.loader)
                # Loaders may be slow (reading weights): keep them off the event loop.
                if inspect.iscoroutinefunction(loader):
                    predict_fn = await loader()
                elif is_inline(loader):
                    predict_fn = loader()
                else:
                    predict_fn = await to_thread.run_sync(loader)
                if not callable(predict_fn):
                    raise TypeError(f"loader returned {type(predict_fn).__name__}, not a callable")
            except Exception as exc:
                raise ModelLoadError(spec, f"{type(exc).__name__}: {exc}") from exc
            load_ms = (time.perf_counter() - started) * 1000
            self._models[spec.name] = LoadedModel(
                name=spec.name,
                loader=spec.loader,
                predict_fn=predict_fn,
                loaded_at=datetime.now(UTC),
                load_ms=round(load_ms, 3),
            )
            log.info("loaded model %s (%s) in %.1f ms", spec.name, spec.loader, load_ms)

    async def clear(self) -> list[str]:
        """Release every model that offers a `close` (plain or async); the names of those whose
        close failed. One failure is logged and stops neither the others nor the shut-down."""
        failed = []
        for name, model in list(self._models.items()):
            del self._models[name]
            close = getattr(model.predict_fn, "close", None)
            if not callable(close):
                continue
            try:
                result = close()
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:
                log.exception("model %s (%s) failed to close: %s", name, model.loader, exc)
                failed.append(name)
        return failed
