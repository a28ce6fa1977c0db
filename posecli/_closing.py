"""A context-manager mixin for objects that own resources released by ``close()``."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing_extensions import Self


class Closing:
    """``with obj:`` returns ``obj`` and calls ``obj.close()`` on exit, even after an exception."""

    def close(self) -> None:
        """Release the resources; safe to call more than once (default: nothing to release)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


__all__ = ["Closing"]
