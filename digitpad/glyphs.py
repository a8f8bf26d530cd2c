"""Letters of other alphabets, as pen strokes, for training the model to say "not a digit".

People draw letters on a digit pad too. Training shows the model Greek and
Cyrillic letters rather than Latin ones, so that the Latin capitals which
``tests/bench/non_digits.py`` draws stay unseen and measure how the answer
carries over to shapes training never showed. Left out: letters that look like
a digit as people write it (З, Ч, Б, Ъ, Ь, Э; Λ and Л, a continental 1; Φ and Θ,
a slashed or dotted 0; α, β, δ, ε, ζ, σ, ξ) and letters that mirror or copy a Latin
one (И, Я, and Greek A, B, E, H, K, M, N, P, T, X, Y, Z).

Each glyph is a list of polylines in a unit box (x right, y down).
"""

from __future__ import annotations

import math

import torch


def _arc(centre_x: float, centre_y: float, radius_x: float, radius_y: float, start_degrees: float,
         end_degrees: float, corners: int) -> list[tuple[float, float]]:
    """Points along an ellipse's arc, clockwise on screen from ``start_degrees`` (0: right, 90: down)."""
    angles = [math.radians(start_degrees + (end_degrees - start_degrees) * k / corners) for k in range(corners + 1)]
    return [(centre_x + radius_x * math.cos(a), centre_y + radius_y * math.sin(a)) for a in angles]


GLYPHS: dict[str, list[list[tuple[float, float]]]] = {
    "Γ": [[(0.2, 1), (0.2, 0), (0.9, 0)]],
    "Δ": [[(0.5, 0), (0, 1), (1, 1), (0.5, 0)]],
    "Π": [[(0.1, 1), (0.1, 0), (0.9, 0), (0.9, 1)]],
    "Σ": [[(1, 0), (0, 0), (0.5, 0.5), (0, 1), (1, 1)]],
    "Ξ": [[(0, 0), (1, 0)], [(0.15, 0.5), (0.85, 0.5)], [(0, 1), (1, 1)]],
    "Ψ": [_arc(0.5, 0.1, 0.45, 0.45, 180, 0, 6), [(0.5, 0), (0.5, 1)]],
    "Ω": [[(0.05, 1), (0.3, 1)] + _arc(0.5, 0.45, 0.45, 0.45, 115, 425, 12) + [(0.7, 1), (0.95, 1)]],
    "Ж": [[(0.5, 0), (0.5, 1)], [(0, 0), (0.5, 0.5), (0, 1)], [(1, 0), (0.5, 0.5), (1, 1)]],
    "Ш": [[(0, 0), (0, 1), (1, 1), (1, 0)], [(0.5, 0), (0.5, 1)]],
    "Щ": [[(0, 0), (0, 0.85), (0.9, 0.85), (0.9, 0)], [(0.45, 0), (0.45, 0.85)], [(0.9, 0.85), (1, 1)]],
    "Ц": [[(0.1, 0), (0.1, 0.85), (0.85, 0.85), (0.85, 0)], [(0.85, 0.85), (0.95, 1)]],
    "Ю": [[(0, 0), (0, 1)], [(0, 0.5), (0.35, 0.5)], _arc(0.68, 0.5, 0.32, 0.5, 0, 360, 12)],
    "Ы": [[(0, 0), (0, 1), (0.45, 1)] + _arc(0.45, 0.72, 0.25, 0.28, 90, -90, 6)[1:] + [(0, 0.44)],
          [(1, 0), (1, 1)]],
    "Д": [[(0, 1), (0, 0.85), (1, 0.85), (1, 1)], [(0.15, 0.85), (0.35, 0), (0.85, 0), (0.85, 0.85)]],
    "π": [[(0, 0.1), (1, 0.1)], [(0.3, 0.1), (0.25, 1)], [(0.7, 0.1), (0.75, 0.95), (0.9, 1)]],
    "ω": [[(0.1, 0.1)] + _arc(0.28, 0.55, 0.23, 0.45, 180, 0, 6)[1:] + _arc(0.72, 0.55, 0.23, 0.45, 180, 0, 6)[1:]
          + [(0.9, 0.1)]],
    "μ": [[(0.1, 0), (0.1, 1)], _arc(0.4, 0.5, 0.3, 0.35, 180, 0, 5), [(0.7, 0), (0.75, 0.75), (0.9, 0.8)]],
}


def glyph_segments(max_segments: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every glyph as straight segments: starts and ends (G, max_segments, 2) and which are used (G, max_segments)."""
    starts = torch.zeros(len(GLYPHS), max_segments, 2)
    ends = torch.zeros(len(GLYPHS), max_segments, 2)
    used = torch.zeros(len(GLYPHS), max_segments)
    for number, polylines in enumerate(GLYPHS.values()):
        segments = [(start, end) for polyline in polylines for start, end in zip(polyline[:-1], polyline[1:])]
        if len(segments) > max_segments:
            raise ValueError(f"a glyph has {len(segments)} segments, more than {max_segments}")
        for slot, (start, end) in enumerate(segments):
            starts[number, slot] = torch.tensor(start)
            ends[number, slot] = torch.tensor(end)
            used[number, slot] = 1.0
    return starts, ends, used
