"""Checking an export folder against the format: ``validate_export`` and ``cellucid validate``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cellucid.errors import NotAnExportError
from cellucid.report import count
from cellucid.sinks.folder.format.naming import IDENTITY_NAME
from cellucid.sinks.folder.layouts import detect_layout, get_layout
from cellucid.sinks.folder.unfinished import unfinished_message
from cellucid.verify import rules


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of :func:`validate_export`."""

    export_dir: Path
    errors: tuple[str, ...]
    warnings: tuple[str, ...]
    checked_files: int
    layout: str = "key"

    @property
    def ok(self) -> bool:
        return not self.errors

    def format(self) -> str:
        """A human-readable report."""
        verdict = "valid" if self.ok else f"INVALID ({count(len(self.errors), 'problem')})"
        lines = [
            f"{self.export_dir}: {verdict} ({self.layout} layout), "
            f"{count(self.checked_files, 'file')} checked"
        ]
        lines += [f"  ✗ {e}" for e in self.errors]
        lines += [f"  ⚠ {w}" for w in self.warnings]
        return "\n".join(lines)

    __str__ = format

    def raise_if_invalid(self) -> None:
        """Raise ``ValueError`` listing the problems, if any."""
        if not self.ok:
            raise ValueError(self.format())


def validate_export(export_dir: str | Path) -> ValidationReport:
    """Check an export folder against the Cellucid export format.

    Every file a manifest names must exist with the right size (decoded, for gzip), every
    ``.gz`` must be exactly one gzip member, codes must be categories or the missing
    marker, edges must be in range, sorted and unique, file names must not collide, and
    JSON must be strict with the keys in the format's order.

    Raises
    ------
    NotAnExportError
        If the folder does not exist or has no ``dataset_identity.json``.
    """
    root = Path(export_dir)
    if not (root / IDENTITY_NAME).is_file():
        raise NotAnExportError(
            unfinished_message(root) or f"{root} is not an export folder (no {IDENTITY_NAME})"
        )
    layout = detect_layout(root)
    findings = rules.Findings(root, get_layout(layout))
    identity = rules.load_json(findings, IDENTITY_NAME)
    documents: dict = {
        "identity": identity or {},
        "vector_fields": (identity or {}).get("vector_fields"),
    }
    n = rules.check_identity(findings, identity) if identity is not None else None
    if n is not None:
        folders = {"vectors"}
        obs = rules.load_json(findings, "obs_manifest.json")
        if obs is None and not any("obs_manifest" in e for e in findings.errors):
            findings.error("obs_manifest.json: missing")
        elif obs is not None:
            documents["obs_manifest.json"] = obs
            _guarded(findings, "obs_manifest.json", rules.check_obs, obs, n)
            _guarded(
                findings,
                IDENTITY_NAME,
                lambda f, doc, _n: rules.check_obs_fields_order(f, identity, doc),
                obs,
                n,
            )
            folders |= _folders_of(obs.get("_obsSchemas", {}).values())
        var = rules.load_json(findings, "var_manifest.json")
        if var is not None:
            documents["var_manifest.json"] = var
            _guarded(findings, "var_manifest.json", rules.check_var, var, n)
            folders |= _folders_of([var.get("_varSchema", {})])
        edges = rules.load_json(findings, "connectivity_manifest.json")
        if identity.get("stats", {}).get("has_connectivity") and edges is None:
            findings.error("connectivity_manifest.json: missing but has_connectivity is true")
        if edges is not None:
            _guarded(findings, "connectivity_manifest.json", rules.check_connectivity, edges, n)
            folders.add(edges.get("sourcesPath", "").split("/")[0])
        _guarded(findings, IDENTITY_NAME, rules.check_vectors, identity, n)
        if edges is not None:
            documents["connectivity_manifest.json"] = edges
        _guarded(findings, IDENTITY_NAME, _identity_checks, documents, n)
        findings.layout.validate(findings, documents)
        rules.unreferenced(findings, {f for f in folders if f})
    return ValidationReport(
        root, tuple(findings.errors), tuple(findings.warnings), len(findings.referenced), layout
    )


def _identity_checks(findings: rules.Findings, documents: dict, n: int) -> None:
    rules.check_stats(findings, documents["identity"], documents)
    rules.check_identity_blocks(findings, documents["identity"])


def _guarded(findings: rules.Findings, name: str, check, document: dict, n: int) -> None:
    """Run one section's checks; a manifest missing a key or of the wrong shape is a finding."""
    try:
        check(findings, document, n)
    except (KeyError, TypeError, IndexError, ValueError, AttributeError) as problem:
        findings.error(f"{name}: malformed ({type(problem).__name__}: {problem})")


def _folders_of(schemas) -> set[str]:
    folders = set()
    for schema in schemas:
        for name, value in schema.items():
            if name.lower().endswith("pathpattern") and "/" in value:
                folders.add(value.split("/")[0])
    return folders


def assert_valid_export(export_dir: str | Path) -> ValidationReport:
    """Validate and raise ``AssertionError`` with the report when the export is invalid."""
    report = validate_export(export_dir)
    if not report.ok:
        raise AssertionError(report.format())
    return report


__all__ = ["ValidationReport", "validate_export", "assert_valid_export"]
