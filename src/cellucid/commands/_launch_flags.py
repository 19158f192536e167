"""``cellucid serve`` for today's web app: the flags of its launch choices, and what the
flags given become (:func:`cellucid.serving.current_route.current_app_server`'s options).

The launch flags are upstream 0.9.5's ``cellucid serve`` flags (``--knn``, ``--expression``,
``--gene-id-column``, ...). The export flags of ``cellucid prepare`` that a store also takes
(``--latent-key``, ``--obs-key``, ``--embedding-2d``, ``--dataset-name``, ...) keep their
names; the ones only an export folder takes are refused unless ``--viewer pinned``.
"""

from __future__ import annotations

import argparse
from typing import Any

from cellucid.commands.prepare import GIVEN

#: flag dest -> the keyword of today's app it fills (launch choice or store writer keyword)
KEYWORD_OF_FLAG = {
    "latent_key": "latent_key",
    "obs_keys": "obs_keys",
    "centroid_min_points": "centroid_min_points",
    "vector_field_default": "vector_field_default",
    "knn_key": "knn_key",
    "expression_source": "expression_source",
    "gene_id_column": "gene_id_column",
    "normalize_embeddings": "normalize_embeddings",
    "modality": "modality",
    "dataset_name": "dataset_name",
    "dataset_id": "dataset_id",
    "dataset_description": "dataset_description",
    "source_name": "source_name",
    "source_url": "source_url",
    "genes": "gene_identifiers",
    "genes_file": "genes_file",
    "var_gene_id_column": "var_gene_id_column",
    "force": "force",
}
#: the ``--embedding-<d>d`` flags: one slot of ``embedding_keys`` each
EMBEDDING_SLOTS = {"embedding_1d": "1d", "embedding_2d": "2d", "embedding_3d": "3d"}
#: flags that say how to serve, not what to serve: never refused
SERVING_FLAGS = frozenset(
    {"port", "host", "no_browser", "verbose", "allowed_host", "web_source_url", "viewer"}
)


def add_launch_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of today's web app that ``cellucid prepare`` has no use for."""
    g = p.add_argument_group(
        "today's web app (default --viewer current)",
        "How the app opens the data; the store is not rewritten for these. --latent-key, "
        "--obs-key, --embedding-1d/2d/3d, --centroid-min-points, --dataset-name and "
        "--dataset-id also apply; the other export options need --viewer pinned.",
    )
    g.add_argument(
        "--viewer",
        choices=("current", "pinned"),
        default="current",
        help="current: today's Cellucid web app, over a Cellucid-ready store (a .h5ad or "
        "Zarr input is written into the export cache once); pinned: the pinned viewer "
        "build, over an export folder (default current)",
    )
    g.add_argument("--knn", dest="knn_key", metavar="KEY", help="obsp graph the app draws")
    g.add_argument(
        "--expression",
        dest="expression_source",
        metavar="SOURCE",
        help="where gene expression is read: X, raw or layer:NAME",
    )
    g.add_argument(
        "--gene-id-column", metavar="COLUMN", help="var column whose values name the genes"
    )
    g.add_argument(
        "--normalize-embeddings",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="whether the app scales embeddings into its coordinate range",
    )
    g.add_argument("--modality", metavar="NAME", help="the modality a MuData opens on")
    if not any(a.dest == "vector_field_default" for a in p._actions):
        g.add_argument(
            "--vector-field-default",
            metavar="FIELD",
            help="vector field the overlay opens on (<field> of obsm '<field>_<basis>')",
        )


def current_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options of today's app the flags given name.

    Raises
    ------
    ValueError
        Naming the first flag given that only an export folder takes.
    """
    given = getattr(args, GIVEN, {})
    options: dict[str, Any] = {}
    slots = {}
    for dest, flag in given.items():
        if dest in SERVING_FLAGS:
            continue
        if dest in EMBEDDING_SLOTS:
            slots[EMBEDDING_SLOTS[dest]] = getattr(args, dest)
        elif dest in KEYWORD_OF_FLAG:
            options[KEYWORD_OF_FLAG[dest]] = getattr(args, dest)
        else:
            raise ValueError(
                f"{flag} is an export folder's option, and today's web app opens "
                f"Cellucid-ready stores: add --viewer pinned to export a folder for the "
                f"pinned viewer, or drop {flag}."
            )
    if slots:
        options["embedding_keys"] = slots
    return options
