"""Which embeddings the web app shows when a store opens, from the obsm keys and widths.

The default rule: ``X_umap_1d``/``X_umap_2d``/``X_umap_3d`` fill their slots when any is
present; otherwise the first of ``X_umap``, ``X_UMAP``, ``X_wnn.umap``, ``X_ref.umap``
that is 1 to 3 columns wide fills the slot of its width. Slots named by the launch
defaults replace those; when nothing fills any slot, a best guess by name does. Every
array 1 to 3 columns wide that is neither a vector field nor the latent space is shown
beside them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

SLOTS = ("1d", "2d", "3d")
DIMENSIONAL_UMAP_KEYS = ("X_umap_1d", "X_umap_2d", "X_umap_3d")
UMAP_KEYS = ("X_umap", "X_UMAP", "X_wnn.umap", "X_ref.umap")

# The web app's best-guess ranking: the first group of words a lower-cased key contains
# gives its rank; a key containing none ranks 7, between diffusion maps and latent spaces.
_RANKS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (0, ("umap",)),
    (1, ("tsne", "t-sne", "t_sne")),
    (2, ("draw_graph", "force")),
    (3, ("phate",)),
    (4, ("pacmap", "trimap")),
    (5, ("spatial",)),
    (6, ("diffmap",)),
    (8, ("pca", "scvi", "latent", "harmony", "x_emb")),
)
_UNRANKED = 7


def default_slots(widths: Mapping[str, int]) -> dict[str, str | None]:
    """The obsm key each slot opens on by the default rule (module docstring)."""
    slots: dict[str, str | None] = dict.fromkeys(SLOTS)
    dimensional = [key for key in DIMENSIONAL_UMAP_KEYS if key in widths]
    for key in dimensional:
        slots[f"{key[-2]}d"] = key
    if dimensional:
        return slots
    for key in UMAP_KEYS:
        if widths.get(key) in (1, 2, 3):
            slots[f"{widths[key]}d"] = key
            break
    return slots


def best_guess_order(keys: Iterable[str]) -> list[str]:
    """Keys by the web app's best-guess rank, then by code point."""

    def rank(key: str) -> int:
        lowered = key.lower()
        return next(
            (value for value, words in _RANKS if any(word in lowered for word in words)),
            _UNRANKED,
        )

    return sorted(keys, key=lambda key: (rank(key), key))


def shown_embeddings(
    widths: Mapping[str, int], named_slots: Mapping[str, str], latent_key: str | None
) -> frozenset[str]:
    """The obsm keys the viewer shows on opening (module docstring).

    Parameters
    ----------
    widths
        Every obsm key and its column count.
    named_slots
        Slot (``"2d"``) to obsm key, as the launch defaults name them.
    latent_key
        The latent space, never guessed nor shown beside.
    """
    from .embeddings import vector_field_keys  # pandas, scipy: not for `cellucid serve`

    fields = vector_field_keys(widths)
    candidates = {
        key: width
        for key, width in widths.items()
        if width >= 1 and key not in fields and key != latent_key
    }
    slots = default_slots(widths)
    if named_slots:
        slots.update(named_slots)
    elif not any(slots.values()):
        for dimension in (3, 2, 1):
            exact = best_guess_order(k for k, width in candidates.items() if width == dimension)
            if exact:
                slots[f"{dimension}d"] = exact[0]
        if not any(slots.values()):
            wide = best_guess_order(k for k, width in candidates.items() if width > 3)
            if wide:
                slots["2d"] = wide[0]
    shown = {key for key in slots.values() if key is not None}
    shown.update(key for key, width in candidates.items() if width <= 3)
    return frozenset(shown)


def drawn_fields(widths: Mapping[str, int], shown: frozenset[str]) -> dict[str, bool]:
    """Each declared vector field, and whether one of its embeddings is shown.

    A field is declared by a key ``<field>_<basis>`` exactly as wide as ``X_<basis>``.
    """
    from .embeddings import vector_field_keys

    declared: dict[str, bool] = {}
    for key, (field, embedding) in vector_field_keys(widths).items():
        if widths[key] == widths.get(embedding):
            declared[field] = declared.get(field, False) or embedding in shown
    return declared
