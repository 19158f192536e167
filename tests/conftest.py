"""What every test shares: no test ever reaches the real Cellucid sites.

Today's web app is fetched from ``$CELLUCID_WEB_APP_URL`` (default www.cellucid.com) and the
pinned builds from ``$CELLUCID_WEB_SOURCE_URL`` (default raw.githubusercontent.com). Unless a
test points them at a stand-in of its own, both name a closed port on loopback: a fetch
fails at once, as offline, and the test machine's network plays no part. A variable set
already (by a fixture of a wider scope, or the caller's environment) is left as it is.
"""

from __future__ import annotations

import os

import pytest

from .webfake import closed_port_url


@pytest.fixture(autouse=True)
def no_real_sites(monkeypatch) -> None:
    closed = closed_port_url()
    for variable in ("CELLUCID_WEB_APP_URL", "CELLUCID_WEB_SOURCE_URL"):
        if variable not in os.environ:
            monkeypatch.setenv(variable, closed)


@pytest.fixture(autouse=True, scope="session")
def stamps_in_a_temporary_folder(tmp_path_factory):
    """Export stamps (cellucid.sinks.folder.stamps) go to a temporary folder, never ~/.cache.

    Set for the whole session (child processes inherit it); a test may point it elsewhere.
    """
    if "CELLUCID_STAMP_DIR" in os.environ:
        yield
        return
    os.environ["CELLUCID_STAMP_DIR"] = str(tmp_path_factory.mktemp("stamps"))
    yield
    os.environ.pop("CELLUCID_STAMP_DIR", None)
