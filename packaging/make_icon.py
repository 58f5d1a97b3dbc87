"""Draw the program's icon (avtoprokat_mail/assets/icon.png and icon.ico) with Pillow.

A white envelope on a blue rounded square, with a small red car: mail for a car-rental office.
Run once after changing it: ``python3 packaging/make_icon.py``.
"""

from pathlib import Path

from PIL import Image, ImageDraw

ASSETS = Path(__file__).resolve().parent.parent / "avtoprokat_mail" / "assets"
SIZE = 256


def draw() -> Image.Image:
    image = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    pen.rounded_rectangle((8, 8, 248, 248), radius=48, fill=(13, 110, 253))
    pen.rounded_rectangle((44, 70, 212, 178), radius=10, fill="white")
    pen.line((44, 74, 128, 136, 212, 74), fill=(13, 110, 253), width=10, joint="curve")
    pen.rounded_rectangle((120, 172, 226, 214), radius=14, fill=(220, 53, 69))
    pen.rounded_rectangle((140, 152, 200, 182), radius=10, fill=(220, 53, 69))
    for x in (144, 202):
        pen.ellipse((x - 13, 201, x + 13, 227), fill=(33, 37, 41))
    return image


def main() -> None:
    ASSETS.mkdir(parents=True, exist_ok=True)
    image = draw()
    image.save(ASSETS / "icon.png")
    image.save(ASSETS / "icon.ico", sizes=[(n, n) for n in (16, 20, 24, 32, 40, 48, 64, 256)])


if __name__ == "__main__":
    main()
