"""GenLab's engine: models, data, training and sampling. Torch only; never imports the UI.

Importing this package does nothing heavy: no CUDA initialisation and no model loading.
"""

from .families import NAMES as FAMILIES  # the registry's names (engines.families.REGISTRY): the only list
