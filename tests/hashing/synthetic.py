"""Deterministic, natural-looking test images (no files, no network).

Natural photographs have a roughly 1/f amplitude spectrum; ``natural_image`` shapes random
noise that way per colour channel (with correlated channels) and draws a few hard-edged
shapes on top, so the images have the smooth regions, edges and texture that perceptual
hashes respond to. Each seed gives an unrelated image.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw


def natural_image(seed: int, width: int = 256, height: int = 256) -> Image.Image:
    rng = np.random.default_rng(seed)
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    radius = np.hypot(fx, fy)
    radius[0, 0] = 1.0
    exponent = rng.uniform(0.9, 1.4)
    amplitude = radius**-exponent
    amplitude[0, 0] = 0.0
    shared = rng.standard_normal((height, fx.shape[1])) + 1j * rng.standard_normal(
        (height, fx.shape[1])
    )
    channels = []
    for _ in range(3):
        own = rng.standard_normal(shared.shape) + 1j * rng.standard_normal(shared.shape)
        spectrum = amplitude * (shared + 0.35 * own)
        field = np.fft.irfft2(spectrum, s=(height, width))
        field = (field - field.mean()) / (field.std() + 1e-9)
        channels.append(field)
    pixels = np.stack(channels, axis=-1) * rng.uniform(35, 60) + rng.uniform(60, 190, size=3)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(2, 7))):
        x0, x1 = sorted(rng.integers(0, width, size=2).tolist())
        y0, y1 = sorted(rng.integers(0, height, size=2).tolist())
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x1 + 2, y1 + 2), fill=colour)
        else:
            draw.rectangle((x0, y0, x1 + 2, y1 + 2), fill=colour)
    return image
