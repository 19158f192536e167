"""cellucid/errors.py: every user-facing error shares one base, keeps its builtin kind and is
a public name of the package."""

from __future__ import annotations

import errno
import inspect

import pytest

import cellucid
from cellucid import errors

CLASSES = [
    value
    for value in vars(errors).values()
    if inspect.isclass(value) and value.__module__ == "cellucid.errors"
]
BUILTIN_KIND = {
    "InputNotFoundError": FileNotFoundError,
    "InputFileError": ValueError,
    "OutputPathError": ValueError,
    "ExpressionValuesError": ValueError,
    "ExportWriteError": OSError,
    "ExportLockedError": RuntimeError,
    "ExportMismatchError": ValueError,
    "DamagedRecordError": ValueError,
    "NotAnExportError": FileNotFoundError,
}


def test_every_error_is_listed_exported_and_of_its_builtin_kind():
    names = {c.__name__ for c in CLASSES}
    assert names == {"CellucidError", *BUILTIN_KIND}
    assert sorted(errors.__all__) == sorted(names)
    for cls in CLASSES:
        assert cls.__name__ in cellucid.__all__
        assert getattr(cellucid, cls.__name__) is cls
        assert issubclass(cls, errors.CellucidError)
    for name, kind in BUILTIN_KIND.items():
        assert issubclass(getattr(errors, name), kind), name


@pytest.mark.parametrize("kind", [ValueError, OSError, RuntimeError, FileNotFoundError])
def test_one_except_catches_them_all(kind):
    raised = next(c for n, c in vars(errors).items() if BUILTIN_KIND.get(n) is kind)
    if raised is errors.ExpressionValuesError:
        raised = errors.InputFileError
    with pytest.raises(cellucid.CellucidError):
        raise raised("x")


def test_an_os_error_keeps_its_errno_and_message():
    error = errors.ExportWriteError(errno.ENOSPC, "No space left on the device")
    assert error.errno == errno.ENOSPC and str(error) == "[Errno 28] No space left on the device"


def test_the_modules_that_raise_them_define_no_error_of_their_own():
    from cellucid.checks import paths
    from cellucid.engine import files, lock
    from cellucid.sinks.folder import state

    assert paths.OutputPathError is errors.OutputPathError
    assert files.ExportWriteError is lock.ExportWriteError is errors.ExportWriteError
    assert state.ExportMismatchError is errors.ExportMismatchError
