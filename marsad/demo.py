"""A loopback web server for the offline demo site in seeds/demo.

Files named `*.tmpl.*` have `{{BASE}}` replaced by the server's base URL, so the
RSS feed can carry absolute links to whatever free port the server got.
Files ending in `.cp1256.html` are served as windows-1256 bytes with no charset
in the header, the way many Arabic sites still do it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path


def demo_root() -> Path:
    return Path(str(files("marsad.seeds") / "demo"))


class DemoHandler(SimpleHTTPRequestHandler):
    base_url = ""

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        rel = self.path.split("?", 1)[0].lstrip("/") or "index.html"
        path = Path(self.directory) / rel
        if not path.is_file() or ".." in Path(rel).parts:
            self.send_error(404, "Not Found")
            return
        body = path.read_bytes()
        ctype = self.guess_type(str(path))
        if ".tmpl." in path.name:
            body = body.replace(b"{{BASE}}", self.base_url.encode())
        if path.name.endswith(".cp1256.html"):
            body = body.decode("utf-8").encode("cp1256")
            ctype = "text/html"  # deliberately no charset: the page's bytes must tell
        elif ctype.startswith("text/") or ctype.endswith("xml"):
            ctype += "; charset=utf-8"
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def serve_directory(root: Path, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve `root` on a free loopback port in a thread; yields the base URL."""
    handler: type[DemoHandler] = type("BoundDemoHandler", (DemoHandler,), {})
    server = ThreadingHTTPServer((host, 0), partial(handler, directory=str(root)))
    base = f"http://{host}:{server.server_address[1]}"
    handler.base_url = base
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base
    finally:
        server.shutdown()
        server.server_close()


def demo_sources_yaml(base: str) -> str:
    return (
        "sources:\n"
        "  - name: marsad-demo\n"
        f"    feeds: [{base}/feed.tmpl.xml]\n"
        f"    urls: [{base}/missing-article.html, {base}/logo.png]\n"
        "    language: ar\n"
    )
