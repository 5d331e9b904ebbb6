"""GenLab's engine: models, data, training and sampling. Torch only; never imports the UI.

Importing this package does nothing heavy: no CUDA initialisation and no model loading.
"""


def __getattr__(name: str):
    """FAMILIES: the registry's names (engines.families.REGISTRY), the only list of families."""
    if name == "FAMILIES":
        from .families import NAMES
        return NAMES
    raise AttributeError(f"module 'engines' has no attribute {name!r}")
