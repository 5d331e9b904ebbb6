"""GenLab's engine: models, data, training and sampling. Torch only; never imports the UI.

Importing this package does nothing heavy: no CUDA initialisation and no model loading.
"""

FAMILIES = ("vae", "stylegan", "ddpm", "clip", "pixelcnn", "vqvae", "ldm", "faceattr")
