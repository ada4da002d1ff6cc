"""The downloader against a real HTTP server on 127.0.0.1 (never the internet)."""

import gzip
import hashlib
import http.server
import os
import socket
import threading

import pytest

from mxgan.data.download import download_file
from mxgan.data.idx import IdxFile
from mxgan.errors import MxganError

CONTENT = b"\x00\x00\x08\x01\x00\x00\x00\x05" + bytes(range(5))  # a 5-label IDX file
SPEC = IdxFile("labels-idx1-ubyte", hashlib.md5(CONTENT).hexdigest(), len(CONTENT))


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(root))  # noqa: E731
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.RequestHandlerClass.log_message = lambda *a: None
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def test_good_file_is_downloaded_verified_and_renamed(server, tmp_path):
    root, url = server
    (root / f"{SPEC.name}.gz").write_bytes(gzip.compress(CONTENT))
    dest = tmp_path / "data"
    path = download_file(SPEC, dest, (url,), progress=False)
    assert path == dest / f"{SPEC.name}.gz"
    assert gzip.decompress(path.read_bytes()) == CONTENT
    assert os.listdir(dest) == [path.name]  # no temporary file left behind


def test_wrong_checksum_falls_through_to_the_next_mirror(server, tmp_path):
    root, url = server
    (root / "bad").mkdir()
    (root / "bad" / f"{SPEC.name}.gz").write_bytes(gzip.compress(CONTENT[:-1] + b"\x09"))
    (root / f"{SPEC.name}.gz").write_bytes(gzip.compress(CONTENT))
    path = download_file(SPEC, tmp_path, (url + "bad/", url), progress=False)
    assert gzip.decompress(path.read_bytes()) == CONTENT


def test_wrong_checksum_everywhere_leaves_nothing(server, tmp_path):
    root, url = server
    (root / f"{SPEC.name}.gz").write_bytes(gzip.compress(b"something else"))
    with pytest.raises(MxganError, match=r"md5 .* != expected .*offline\? copy the file into"):
        download_file(SPEC, tmp_path / "d", (url,), progress=False)
    assert os.listdir(tmp_path / "d") == []


def test_server_down_gives_one_line_with_where_to_put_the_file(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(MxganError) as info:
        download_file(SPEC, tmp_path / "d", (f"http://127.0.0.1:{port}/",), progress=False)
    message = str(info.value)
    assert "\n" not in message and "refused" in message.lower() and str(tmp_path / "d") in message
    assert os.listdir(tmp_path / "d") == []


def test_missing_file_on_server(server, tmp_path):
    _, url = server
    with pytest.raises(MxganError, match="404"):
        download_file(SPEC, tmp_path, (url,), progress=False)
