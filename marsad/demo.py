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


DEMO_QUERY = "فؤاد حسين"  # a name the demo pages carry (with a hamza form search folds)
TOP_NAMES_SQL = (
    "SELECT e.name, count(*) AS mentions FROM (SELECT unnest(entities) AS e FROM "
    "read_parquet(?)) GROUP BY ALL ORDER BY mentions DESC, e.name LIMIT 10"
)


def _command(name: str, path: str) -> str:
    """`name` when this environment's `path` is what PATH finds, else `path` itself (the
    usual `.venv/bin/marsad demo`, venv not activated)."""
    import shlex
    import shutil

    found = shutil.which(name)
    if found and Path(found).parent.resolve() == Path(path).parent.resolve():
        return name
    return shlex.quote(path)


def next_steps(out: str) -> str:
    """What to try after `marsad demo`, as commands that run as printed on `out` (the
    path goes to DuckDB as a parameter, so no quoting of it inside SQL can go wrong)."""
    import shlex
    import sys

    q_out = shlex.quote(out)
    python = _command("python", sys.executable)
    marsad = _command("marsad", str(Path(sys.executable).parent / "marsad"))
    duck = (
        f"{python} -c \"import duckdb, sys; duckdb.sql('{TOP_NAMES_SQL}', "
        f'params=[sys.argv[1]]).show()" ' + shlex.quote(f"{out.rstrip('/')}/articles/**/*.parquet")
    )
    return "\n".join(
        [
            "",
            "Next steps:",
            "  a report with charts, one HTML file that opens offline (right to left):",
            f"    {marsad} report --out {q_out}",
            "  search the stored articles (diacritics, hamza and alef forms don't matter):",
            f"    {marsad} search {shlex.quote(DEMO_QUERY)} --out {q_out}",
            "  the entity names most mentioned, with DuckDB over the Parquet files:",
            f"    {duck}",
            "  monitor your own sources on a schedule (Prefect UI at http://127.0.0.1:4200):",
            f"    {marsad} serve --sources sources.yaml --out {q_out}",
            "  every command's options and an example: marsad COMMAND --help",
        ]
    )
