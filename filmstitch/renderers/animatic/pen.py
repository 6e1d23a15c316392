"""The pen: shapes in figure units (1.0 = the figure's height) drawn onto a supersampled sprite.

Figures (figures.py) and the props they hold (props.py) are drawn with it: capsules for limbs,
ellipses, polygons and rounded boxes, each with the figure's outline colour.
"""

from __future__ import annotations

from PIL import ImageDraw

from filmstitch.renderers.animatic.looks import RGB


class Pen:
    """Draws figure-unit shapes onto a supersampled sprite."""

    def __init__(self, draw: ImageDraw.ImageDraw, origin: tuple[float, float], px: float, outline: RGB) -> None:
        self.draw, self.ox, self.oy, self.px, self.outline = draw, origin[0], origin[1], px, outline
        self.ow = max(1.0, px * 0.011)

    def p(self, point: tuple[float, float]) -> tuple[float, float]:
        return (self.ox + point[0] * self.px, self.oy + point[1] * self.px)

    def _round_line(self, points: list[tuple[float, float]], width: float, colour) -> None:
        self.draw.line(points, fill=colour, width=max(1, round(width)), joint="curve")
        r = width / 2
        for x, y in (points[0], points[-1]):
            self.draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)

    def capsule(self, points: list[tuple[float, float]], width: float, fill: RGB | tuple[int, int, int, int],
                outline: bool = True) -> None:
        pts = [self.p(q) for q in points]
        w = width * self.px
        if outline:
            self._round_line(pts, w + 2 * self.ow, self.outline)
        self._round_line(pts, w, fill)

    def ellipse(self, centre: tuple[float, float], rx: float, ry: float, fill, outline: bool = True) -> None:
        x, y = self.p(centre)
        box = (x - rx * self.px, y - ry * self.px, x + rx * self.px, y + ry * self.px)
        self.draw.ellipse(box, fill=fill, outline=self.outline if outline else None, width=round(self.ow))

    def polygon(self, points: list[tuple[float, float]], fill, outline: bool = True) -> None:
        self.draw.polygon([self.p(q) for q in points], fill=fill, outline=self.outline if outline else None,
                          width=round(self.ow))

    def rect(self, box: tuple[float, float, float, float], fill, radius: float = 0.0, outline: bool = True) -> None:
        x0, y0 = self.p((box[0], box[1]))
        x1, y1 = self.p((box[2], box[3]))
        corners = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        style = {"fill": fill, "outline": self.outline if outline else None, "width": round(self.ow)}
        try:
            self.draw.rounded_rectangle(corners, radius=radius * self.px, **style)
        except ValueError:
            # Pillow (13.0) refuses some outlined boxes whose round ends almost meet ("x1 must be greater than or
            # equal to x0": e.g. 5x4 px with a radius of 1.5-2), as small frames draw them. A radius that leaves a
            # straight edge of a pixel or more on every side always draws, and looks the same at that size.
            width, height = corners[2] - corners[0], corners[3] - corners[1]
            self.draw.rounded_rectangle(corners, radius=max(0.0, (min(width, height) - 2) / 2), **style)
