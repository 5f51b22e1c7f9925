"""Instrument a framework when the application imports it, not before.

Importing a framework just to instrument it is expensive (the Agents SDK takes about 2 s) and
would be paid under ``opentelemetry-instrument`` by every process that merely has it
installed. The entry-point instrumentors therefore check that the distribution is installed
(else ``ModuleNotFoundError``, which the loader skips quietly) and act when the module is
imported, or at once if it already is.
"""

from __future__ import annotations

import logging
import threading
from importlib import metadata
from typing import Any, Callable

import wrapt

_logger = logging.getLogger("otel_agentmon")


class DeferredInstrumentation:
    """Calls ``instrument(**options)`` once ``module`` is imported, with the latest options, while wanted."""

    def __init__(self, distribution: str, module: str, instrument: Callable[..., Any]) -> None:
        self._distribution = distribution
        self._module = module
        self._instrument = instrument
        self._lock = threading.Lock()
        self._registered = False
        self._options: dict[str, Any] | None = None  # None: not wanted

    def request(self, options: dict[str, Any]) -> None:
        try:
            metadata.distribution(self._distribution)
        except metadata.PackageNotFoundError:
            raise ModuleNotFoundError(f"{self._distribution} is not installed", name=self._module) from None
        with self._lock:
            self._options = options
            register = not self._registered
            self._registered = True
        if register:
            # runs the hook at once when the module is already imported; a hook cannot be
            # removed, so cancel() only makes it do nothing
            wrapt.register_post_import_hook(self._imported, self._module)
        else:
            self._imported(None)

    def cancel(self) -> None:
        with self._lock:
            self._options = None

    def _imported(self, module: Any) -> None:
        import sys

        if self._module not in sys.modules:
            return  # a repeated request() before the application imported the module
        with self._lock:
            options = self._options
        if options is None:
            return
        try:
            self._instrument(**options)
        except Exception:  # never let instrumentation break the application's import
            _logger.warning("otel-agentmon: instrumenting %s failed", self._module, exc_info=True)
