"""lvrlib: denoising by projection onto the range of a GAN (latent vector recovery).

Reproduces Tripathi, Lipton & Nguyen, "Correction by Projection: Denoising Images with
Generative Adversarial Networks" (arXiv 1803.04477).
"""
__version__ = "0.1.0"
