"""Today's Cellucid web app (0.9.5 and later): fetched whole from its site at first use,
checked against the site's inventory, cached per build and served from the cache.

See docs/serving.md, "The current web app: how it is fetched and verified, and offline use".
"""

from cellucid.serving.webapp.app import CurrentApp
from cellucid.serving.webapp.source import APP_URL_VARIABLE, DEFAULT_APP_URL, app_source_url

__all__ = ["APP_URL_VARIABLE", "DEFAULT_APP_URL", "CurrentApp", "app_source_url"]
