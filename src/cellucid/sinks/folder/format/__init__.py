"""The Cellucid export format (compact_v1), in one place.

Everything here is pure: names, quantization, gzip framing and manifest dictionaries.
Nothing in this package touches the file system; the engine does the writing.
"""
