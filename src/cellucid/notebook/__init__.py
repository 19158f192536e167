"""The viewer inside a Jupyter notebook: ``show()``, the Python-viewer bridge and the hooks."""
