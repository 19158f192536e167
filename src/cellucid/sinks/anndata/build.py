"""``prepare()``'s arguments converted into a :class:`~.content.StoreContent`, X described.

Every component comes from ``data`` unless given explicitly; each is checked and
converted as upstream 0.9.5 converts it, and everything but the values of X is refused
here, before anything is written. X itself is only described
(:class:`~.expression.ExpressionSource`); its values are checked as they are scanned.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .arguments import StoreRequest, check_request
from .content import StoreContent
from .defaults import Stored, launch_defaults
from .embeddings import convert_embeddings
from .expression import ExpressionSource, describe_expression, expression_source
from .frames import convert_obs
from .genes import resolve_genes
from .graph import convert_connectivities
from .inputs import lend
from .outliers import DEFAULT_MIN_POINTS, stored_outlier_quantiles
from .record import identity, stored_value
from .vectors import convert_vector_fields

Note = Callable[[str], None]

# The arguments that describe X's genes, refused without X.
_GENE_ARGUMENTS = ("var", "gene_identifiers", "var_gene_id_column")


def _print(message: str) -> None:
    print(message, file=sys.stdout)


def _require_identity(arguments: Mapping[str, Any], data_given: bool) -> None:
    for argument, key in (("dataset_id", "id"), ("dataset_name", "name")):
        if arguments.get(argument) is None:
            where = f"data's uns['cellucid'] has no {key!r}, so " if data_given else ""
            raise TypeError(f"prepare() needs {argument}: {where}pass {argument}=.")


def _require_embeddings(
    arguments: Mapping[str, Any], given: Mapping[str, Any], data: object
) -> None:
    if "embeddings" in given:
        return
    if data is None:
        raise TypeError(
            "prepare() needs embeddings=: at least one {obsm key: (n_cells, k) array}, for "
            "example embeddings={'X_umap': adata.obsm['X_umap']}, or data= an AnnData that "
            "holds them."
        )
    if not arguments.get("embeddings"):
        raise ValueError(
            "data holds no embedding: its obsm has no numeric array. Compute one (for "
            "example sc.pp.neighbors(adata); sc.tl.umap(adata)) or pass embeddings=."
        )


def _genes(
    arguments: Mapping[str, Any], n_cells: int, note: Note | None
) -> tuple[np.ndarray, dict[str, Any], Any]:
    """The var index and columns, and X checked and described (None without X)."""
    matrix = arguments.get("gene_expression")
    if matrix is None:
        supplied = [name for name in _GENE_ARGUMENTS if arguments.get(name) is not None]
        if supplied:
            raise ValueError(
                f"{supplied[0]} describes the genes of gene_expression, and there is no "
                "gene_expression (data has no X and none was passed)."
            )
        return np.asarray([], dtype=object), {}, None
    described = describe_expression(matrix, n_cells)
    genes = resolve_genes(
        arguments.get("var"),
        int(described.matrix.shape[1]),
        arguments.get("var_gene_id_column"),
        arguments.get("gene_identifiers"),
        note,
    )
    return genes.index, genes.columns, (described, genes.positions)


def _require_choices(
    arguments: Mapping[str, Any], embeddings: Mapping[str, Any], fields: list[str]
) -> None:
    """``vector_field_default`` among the fields, ``latent_key`` among the embeddings."""
    field = arguments.get("vector_field_default")
    if field is not None and field not in fields:
        if not fields:
            raise ValueError("vector_field_default names a field, and there are no vector_fields.")
        raise ValueError(
            f"vector_field_default must be one of the vector fields {fields}, got {field!r}."
        )
    latent = arguments.get("latent_key")
    if latent is not None and latent not in embeddings:
        raise ValueError(
            f"latent_key must name one of the embeddings {list(embeddings)}, got {latent!r}."
        )


def _record(
    arguments: Mapping[str, Any],
    stored: Stored,
    obs: dict[str, Any],
    obsm: Mapping[str, np.ndarray],
) -> dict[str, Any]:
    record = identity(arguments)
    defaults = launch_defaults(arguments, stored)
    if defaults:
        record["defaults"] = stored_value(defaults)
    latent = defaults.get("latentKey")
    if latent is not None:
        minimum = defaults.get("centroidMinPoints", DEFAULT_MIN_POINTS)
        record["outlierQuantiles"] = stored_outlier_quantiles(obs, latent, obsm[latent], minimum)
    return record


def convert(
    arguments: Mapping[str, Any], note: Note | None = None
) -> tuple[StoreContent, tuple[Any, np.ndarray] | None]:
    """Every component checked and converted (``arguments``: components by argument name).

    Returns the content (``x`` None) and, with X, its description and exported columns.
    """
    identity(arguments)  # the identity is refused first, as 0.9.5 does
    embeddings, n_cells = convert_embeddings(arguments.get("embeddings"))
    vectors, fields = convert_vector_fields(arguments.get("vector_fields"), embeddings, n_cells)
    obs_index, obs = convert_obs(arguments.get("obs"), n_cells, note)
    var_index, var, x = _genes(arguments, n_cells, note)
    graph = arguments.get("connectivities")
    obsp = {} if graph is None else {"connectivities": convert_connectivities(graph, n_cells)}
    _require_choices(arguments, embeddings, fields)
    obsm = {**embeddings, **vectors}
    stored = Stored(
        obsm={key: int(values.shape[1]) for key, values in obsm.items()},
        obs_columns=frozenset(obs),
        var_columns=frozenset(var),
    )
    record = _record(arguments, stored, obs, embeddings)
    content = StoreContent(
        obs_index=obs_index,
        obs=obs,
        var_index=var_index,
        var=var,
        obsm=obsm,
        obsp=obsp,
        uns={"title": record["name"], "cellucid": record},
    )
    return content, x


def build_content(
    request: StoreRequest, *, note: Note | None = _print
) -> tuple[StoreContent, ExpressionSource | None]:
    """Check and convert one ``prepare()`` call: the store's content, and where X comes from.

    Parameters
    ----------
    request
        The call.
    note
        Hears one line per change made for the user (repeated cell or gene names made
        unique); stdout by default, None for silence.

    Returns
    -------
    content
        Every element but X's values (``content.x`` is None: it is filled once X is
        scanned).
    source
        X's description and the exported genes' input columns, or None when there is
        no X. Close it (:meth:`~.expression.ExpressionSource.close`) after reading X:
        it may hold a file this call opened.

    Raises
    ------
    TypeError, ValueError, FileExistsError, FileNotFoundError
        Any refused argument; the message names it, says what is wrong and how to fix it.
    """
    check_request(request)
    lent = lend(request.data)
    try:
        given = request.given()
        arguments = {**lent.components, **given}
        _require_identity(arguments, data_given=request.data is not None)
        _require_embeddings(arguments, given, request.data)
        content, x = convert(arguments, note)
    except BaseException:
        lent.close()
        raise
    if x is None:
        lent.close()
        _tell_layers(lent, note)
        return content, None
    described, columns = x
    return content, expression_source(described, columns, lent.handles)


def _tell_layers(lent: Any, note: Note | None) -> None:
    """data has no X but layers: say the store holds no expression and how to store one."""
    if not lent.layers or note is None:
        return
    first = lent.layers[0]
    note(
        f"⚠ data has no X, so the store holds no gene expression; its layers "
        f"({', '.join(lent.layers)}) are not written. To store one, pass "
        f"gene_expression=adata.layers[{first!r}] (Python), or write an export folder with "
        f"--layer {first}."
    )
