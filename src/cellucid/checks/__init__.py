"""Checks of prepare()'s inputs before anything is written, and the checked inputs they produce."""
