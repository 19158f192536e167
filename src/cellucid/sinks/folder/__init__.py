"""The export folder (cellucid 0.0.9's format, key and index layouts): its plan, layouts,
format, sections and gene files."""
