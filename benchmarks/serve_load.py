"""Load test of the API under its web server with the production settings, cached and uncached, on a full-scale
catalogue.

Sets up its own PostgreSQL database and Redis cache (or uses --database-url/--redis-url): by default a generated
catalogue with the full public set's counts (37,020 books, 41,758 links, 772,798 pairs) made of subjects, authors
and series as real catalogues are (benchmarks/clustered_catalogue.py; --catalogue random: links drawn at random,
the structureless catalogue of import_speed.py; --sample: the Wikipedia sample), imported and trained inline
(--skip-setup reuses them). Then drives the web server as `make run` starts it (recommender/web_server.py: granian,
2 workers of 1 thread; --server gunicorn: gunicorn's gthread workers, to compare) with wrk (Debian's package) from a
separate process, one server start per setup, side by side in one run:

- cached: the production setup, answers cached per model version. Warm-up (not measured): one request for every
  book, so the figures are the cache's, as the README says.
- uncached: the answer cache off (ANSWER_CACHE_SECONDS=0), `similar` for random books and `recommend` for random
  liked lists of 1-5 books: every answer computed, the catalogue's side from the in-memory snapshot that each
  worker starts building when it starts. Warm-up (not measured): 10 s of the same requests.
- floor: a constant answer of the same size from the same server setup, no Django: what this machine allows.
- django: `GET /api/widget/`, a constant answer of 29 bytes through Django and all its middleware: what any
  answer of this application costs before it does its own work.
- mixed: the production setup for 60 s at 64 connections (--mixed-seconds): search as typed, book pages,
  similar, recommend with random liked lists and the map's points.

Prints requests/s, p50, p99, errors, the workers' CPU time per request ("cpu ms": user and system time of all workers
over the round divided by its requests, what an answer costs in place) and each worker's RSS and PSS (vectors and
index are memory-mapped and shared), with a MEETS / MISSES line per target.

    .venv/bin/python benchmarks/serve_load.py [--sample] [--duration 30] [--connections 32 64] [--skip-setup ...]
"""

import argparse
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT.parent / "shared" / "data" / "wikipedia"
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))
from clustered_catalogue import write_clustered_ndjson  # noqa: E402  (sibling scripts)
from import_speed import write_full_scale_ndjson  # noqa: E402

from recommender.web_server import THREADS, web_command  # noqa: E402  (no Django: the command line only)

GUNICORN_THREADS = 4  # gthread threads per worker: gunicorn's best for these answers (README, Serving)
# (requests/s at least, p99 ms at most, RSS MB per worker at most; None: no target), and 0 errors for all three.
# The targets are the uncached ones; the cached figure and the floor are printed beside them.
TARGETS = {"uncached": (2500, 50.0, 200.0), "cached": (None, None, None), "mixed": (None, None, None)}

# The floor: the same server configuration serving a constant answer of the same size, no Django.
TRIVIAL_APP = """
BODY = open(__file__.replace("trivial_app.py", "body.json"), "rb").read()

def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))])
    return [BODY]
"""

# Each wrk thread seeds its own generator; `ids` (and `words`) are filled in by lua_script().
LUA_COMMON = """
local counter = 0
function setup(thread) thread:set("seed", counter); counter = counter + 1 end
function init(args) math.randomseed(os.time() + seed * 7919) end
function liked_body()
  local liked = {}
  for i = 1, math.random(1, 5) do liked[i] = ids[math.random(#ids)] end
  return '{"liked":[' .. table.concat(liked, ",") .. '],"k":10}'
end
local json_headers = {["Content-Type"] = "application/json"}
"""
LUA_REQUESTS = {
    "similar": """
function request() return wrk.format("GET", "/api/books/" .. ids[math.random(#ids)] .. "/similar/?k=10") end
""",
    "recommend": """
function request() return wrk.format("POST", "/api/recommend/", json_headers, liked_body()) end
""",
    "widget": """
function request() return wrk.format("GET", "/api/widget/") end
""",
    "mixed": """
function request()
  local r = math.random(100)
  if r <= 30 then  -- search as typed: a prefix of a title word, 2 letters or more
    local word = words[math.random(#words)]
    return wrk.format("GET", "/api/books/?q=" .. word:sub(1, math.random(2, #word)))
  elseif r <= 50 then return wrk.format("GET", "/books/" .. ids[math.random(#ids)] .. "/")
  elseif r <= 75 then return wrk.format("GET", "/api/books/" .. ids[math.random(#ids)] .. "/similar/?k=10")
  elseif r <= 98 then return wrk.format("POST", "/api/recommend/", json_headers, liked_body())
  else return wrk.format("GET", "/map/data/books.json") end
end
""",
}


def lua_script(kind: str, ids: np.ndarray, words: list[str]) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=f"-{kind}.lua", delete=False) as script:
        script.write(f"local ids = {{{','.join(map(str, ids.tolist()))}}}\n")
        script.write(f"local words = {{{','.join(json.dumps(w) for w in words)}}}\n")
        script.write(LUA_COMMON + LUA_REQUESTS[kind])
    return script.name


def manage(env: dict, *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def fresh_postgres(base: str, name: str) -> str:
    import psycopg

    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    return f"{base}/{name}"


def wait_healthy(url: str, path: str = "/healthz", timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + path, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("the web server did not become healthy")


def memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, PSS) in MB: PSS splits shared pages among the processes that map them."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    pss = int(re.search(r"^Pss:\s+(\d+)", rollup, re.M).group(1)) / 1024
    return rss, pss


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time the processes have used so far (/proc/<pid>/stat, fields 14 and 15)."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def parse_wrk(output: str) -> dict:
    def latency_ms(label: str) -> float:
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", output).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    errors = 0
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if socket:
        errors += sum(map(int, socket.groups()))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        errors += int(non_2xx.group(1))
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50_ms": latency_ms("50%"),
        "p99_ms": latency_ms("99%"),
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
        "errors": errors,
    }


@dataclass
class Setup:
    name: str  # a key of TARGETS, or "floor"
    app: str
    cwd: Path
    env: dict
    warm_up: tuple[str, int]  # (script kind, seconds), or ("every-book", 0): one request for every book
    rounds: list[tuple[str, int, int]]  # (script kind, connections, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", action="store_true", help="the Wikipedia sample instead of a full-scale catalogue")
    parser.add_argument(
        "--catalogue", choices=["clustered", "random"], default="clustered", help="how the full-scale one is generated"
    )
    parser.add_argument("--duration", type=int, default=30)
    parser.add_argument("--connections", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--mixed-seconds", type=int, default=60)
    parser.add_argument("--mixed-connections", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3, help="training epochs of the setup (speed, not quality)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--server", choices=["granian", "gunicorn"], default="granian", help="granian is served (web_server.py)"
    )
    parser.add_argument(
        "--worker-class", default="gthread", help="gunicorn's worker class (gthread keeps connections alive)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help=f"Python threads per worker (default: {THREADS}; gunicorn: {GUNICORN_THREADS}, its best)",
    )
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument("--database-url", default="", help="default: a fresh PostgreSQL database bench_serve")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/5")
    parser.add_argument("--artifacts", default="", help="default: a temporary folder")
    parser.add_argument("--skip-setup", action="store_true", help="reuse --database-url and --artifacts as they are")
    parser.add_argument("--only", nargs="+", choices=["cached", "uncached", "floor", "django", "mixed"], default=[])
    options = parser.parse_args()
    options.threads = options.threads or (GUNICORN_THREADS if options.server == "gunicorn" else THREADS)
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")

    artifacts = Path(options.artifacts or tempfile.mkdtemp(prefix="serve-load-"))
    artifacts.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "benchmark-secret-key",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": options.database_url or fresh_postgres(options.pg, "bench_serve"),
        "REDIS_URL": options.redis_url,
        "ARTIFACTS_DIR": str(artifacts),
        "LOG_LEVEL": "WARNING",
    }
    if not options.skip_setup:
        source = SAMPLE if options.sample else artifacts / "full-scale.ndjson"
        if not options.sample:
            print(f"setup: generating a full-scale catalogue ({options.catalogue}) ...", flush=True)
            write = write_clustered_ndjson if options.catalogue == "clustered" else write_full_scale_ndjson
            write(source)
        print("setup: migrate, import, train a version inline ...", flush=True)
        manage(env, "migrate", "-v0")
        manage(env, "import_books", str(source))
        manage(env, "train", "--inline", "--epochs", str(options.epochs))
    subprocess.run(["redis-cli", "-u", options.redis_url, "flushdb"], check=True, stdout=subprocess.DEVNULL)
    version = json.loads((artifacts / "active.json").read_text())["version"]
    ids = np.load(artifacts / "versions" / version / "book_ids.npy")
    words = title_words(env)
    scripts = {kind: lua_script(kind, ids, words) for kind in LUA_REQUESTS}
    sample_body = django_answer(env, f"/api/books/{int(ids[0])}/similar/?k=10")
    floor_dir = Path(tempfile.mkdtemp(prefix="serve-floor-"))
    (floor_dir / "trivial_app.py").write_text(TRIVIAL_APP)
    (floor_dir / "body.json").write_text(sample_body)

    uncached = {**env, "ANSWER_CACHE_SECONDS": "0"}
    rounds = [(kind, c, options.duration) for kind in ("similar", "recommend") for c in options.connections]
    setups = [
        Setup("cached", "recommender.wsgi", ROOT, env, ("every-book", 0), rounds[: len(options.connections)]),
        Setup("uncached", "recommender.wsgi", ROOT, uncached, ("similar", 10), rounds),
        Setup("floor", "trivial_app", floor_dir, env, ("similar", 5), rounds[: len(options.connections)]),
        Setup(
            "django",
            "recommender.wsgi",
            ROOT,
            uncached,
            ("widget", 5),
            [("widget", c, options.duration) for c in options.connections],
        ),
        Setup(
            "mixed",
            "recommender.wsgi",
            ROOT,
            env,
            ("mixed", 5),
            [("mixed", options.mixed_connections, options.mixed_seconds)],
        ),
    ]
    print(
        f"version {version}: {len(ids)} books; {options.server} {options.workers} workers"
        + (f", {options.worker_class}" if options.server == "gunicorn" else "")
        + f" x {options.threads} threads; answers of {len(sample_body)} bytes; load average before: {load()}"
    )
    print(
        f"\n{'setup':<9} {'requests':<10} {'conns':>5} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}"
        f" {'cpu ms':>6}  worker RSS / PSS (MB)"
    )
    verdicts: dict[str, list[bool]] = {}
    for setup in setups:
        if options.only and setup.name not in options.only:
            continue
        verdicts[setup.name] = run_setup(setup, options, scripts, ids)
    print(
        "\n'floor' is a constant answer of the same size from the same server setup: what this machine allows"
        " with wrk on the same cores; 'django' a constant answer through Django and its middleware."
        f" Load average after: {load()}"
    )
    for name, (rps, p99, rss) in TARGETS.items():
        if name not in verdicts:
            continue
        wanted = ", ".join(
            part
            for part in (
                f">= {rps:,} req/s" if rps else "",
                f"p99 <= {p99:g} ms" if p99 else "",
                "0 errors",
                f"<= {rss:g} MB RSS per worker" if rss else "",
            )
            if part
        )
        print(f"targets for {name}: {wanted}: " + ("MEETS" if all(verdicts[name]) else "MISSES"))


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def shell(env: dict, code: str) -> str:
    """The last line `manage.py shell -c code` prints."""
    command = [sys.executable, "manage.py", "shell", "-c", code]
    output = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return output.stdout.strip().splitlines()[-1]


def title_words(env: dict) -> list[str]:
    """ASCII words of the catalogue's titles (what readers type into the search box), at most 2,000."""
    code = (
        "import json, re; from recommender.catalogue.models import Book; "
        "titles = Book.objects.values_list('title', flat=True)[:20000]; "
        "words = {w for t in titles for w in re.findall(r'[A-Za-z0-9]{2,}', t)}; "
        "print(json.dumps(sorted(words)[:2000]))"
    )
    return json.loads(shell(env, code))


def django_answer(env: dict, path: str) -> str:
    return shell(
        env, f"from django.test import Client; print(Client(HTTP_HOST='localhost').get('{path}').content.decode())"
    )


def wrk(url: str, script: str, connections: int, seconds: int) -> dict:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script, url]
    return parse_wrk(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def request_every_book(url: str, ids: np.ndarray, threads: int = 16) -> dict:
    """GET every book's `similar` once (16 keep-alive connections), as the cached setup's warm-up."""
    host, port = url.removeprefix("http://").split(":")

    def walk(part: np.ndarray) -> int:
        connection, errors = http.client.HTTPConnection(host, int(port), timeout=30), 0
        for book_id in part.tolist():
            connection.request("GET", f"/api/books/{book_id}/similar/?k=10")
            response = connection.getresponse()
            response.read()
            errors += response.status != 200
        connection.close()
        return errors

    with ThreadPoolExecutor(threads) as pool:
        errors = sum(pool.map(walk, np.array_split(ids, threads)))
    return {"requests": len(ids), "errors": errors}


def server_command(options, app: str, port: int) -> list[str]:
    """The served web server's command (recommender/web_server.py), or gunicorn's (gthread) to compare with it."""
    if options.server == "granian":
        return web_command(
            "127.0.0.1", port, options.workers, options.threads, f"{app}:application", log_level="warning"
        )
    command = [sys.executable, "-m", "gunicorn", app, "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", str(options.workers), "--worker-class", options.worker_class]
    command += ["--threads", str(options.threads), "--backlog", "2048", "--log-level", "warning"]
    return command


def run_setup(setup: Setup, options, scripts: dict[str, str], ids: np.ndarray) -> list[bool]:
    """Start the server, warm it up (not measured), run each round; one verdict per round against TARGETS."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = options.port or probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    command = server_command(options, setup.app, port)
    server = subprocess.Popen(command, cwd=setup.cwd, env={**setup.env, "PYTHONPATH": str(ROOT)})
    verdicts = []
    try:
        wait_healthy(url, path="/" if setup.name == "floor" else "/healthz")
        workers = [int(p) for p in subprocess.check_output(["pgrep", "-P", str(server.pid)], text=True).split()]
        kind, seconds = setup.warm_up
        started = time.perf_counter()
        warm = request_every_book(url, ids) if kind == "every-book" else wrk(url, scripts[kind], 16, seconds)
        print(
            f"{setup.name:<9} {'warm-up':<10} {16:>5} {warm['requests']:>8,} requests, {warm['errors']} errors"
            f" in {time.perf_counter() - started:.0f} s (not measured)",
            flush=True,
        )
        for kind, connections, seconds in setup.rounds:
            cpu_before = cpu_seconds(workers)
            result = wrk(url, scripts[kind], connections, seconds)
            # the workers' CPU per request: what an answer costs in place, beside what the machine let them have
            cpu_ms = (cpu_seconds(workers) - cpu_before) * 1000 / max(1, result["requests"])
            memory = [memory_mb(pid) for pid in workers]
            print(
                f"{setup.name:<9} {kind:<10} {connections:>5} {result['rps']:>8.0f} {result['p50_ms']:>7.2f}"
                f" {result['p99_ms']:>7.2f} {result['errors']:>6} {cpu_ms:>6.2f}  "
                + ", ".join(f"{rss:.0f} / {pss:.0f}" for rss, pss in memory),
                flush=True,
            )
            rps, p99, rss = TARGETS.get(setup.name, (None, None, None))
            verdicts.append(
                (rps is None or result["rps"] >= rps)
                and (p99 is None or result["p99_ms"] <= p99)
                and result["errors"] == 0
                and (rss is None or max(r for r, _ in memory) <= rss)
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
    return verdicts


if __name__ == "__main__":
    main()
