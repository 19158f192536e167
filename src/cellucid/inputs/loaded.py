"""Type tests against libraries only when they are loaded already.

An object of a library's type can exist only once that library was imported, so asking
``sys.modules`` first answers "no" for free and never imports a library to find out.
"""

from __future__ import annotations

import sys
from typing import Any


def is_loaded_instance(x: Any, module: str, *names: str) -> bool:
    """Whether ``x`` is an instance of ``module.<name>`` for one of ``names``, without
    importing ``module`` (False when it is not loaded).

    Examples
    --------
    >>> is_loaded_instance(object(), "a_module_never_imported", "Array")
    False
    """
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(x, tuple(getattr(loaded, n) for n in names))
