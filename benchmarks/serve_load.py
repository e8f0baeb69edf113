"""Load test of /api/books/<id>/similar/ under gunicorn with the production settings.

Sets up its own PostgreSQL database and Redis cache (or uses --database-url/--redis-url), imports the
Wikipedia sample and trains a version on it (--skip-setup reuses them), starts gunicorn with 2 workers, and
drives random book ids with wrk (Debian's package) from a separate process, for 30 s at 32 and 64
connections. Prints requests/s, p50, p99, errors and each worker's RSS (and PSS: the index and vectors
are memory-mapped and shared). Targets: >= 1,500 requests/s, p99 <= 20 ms, 0 errors, <= 150 MB RSS/worker.

    .venv/bin/python benchmarks/serve_load.py [--duration 30] [--connections 32 64]
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT.parent / "shared" / "data" / "wikipedia"
TARGETS = {"rps": 1500, "p99_ms": 20.0, "rss_mb": 150.0}

LUA = """
local ids = {%s}
local counter = 0
function setup(thread) thread:set("seed", counter); counter = counter + 1 end
function init(args) math.randomseed(os.time() + seed * 7919) end
function request()
  return wrk.format("GET", "/api/books/" .. ids[math.random(#ids)] .. "/similar/?k=10")
end
"""


def manage(env: dict, *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def fresh_postgres(base: str, name: str) -> str:
    import psycopg

    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    return f"{base}/{name}"


def wait_healthy(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("gunicorn did not become healthy")


def memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, PSS) in MB: PSS splits shared pages among the processes that map them."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    pss = int(re.search(r"^Pss:\s+(\d+)", rollup, re.M).group(1)) / 1024
    return rss, pss


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=30)
    parser.add_argument("--connections", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="gthread threads per worker")
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument("--database-url", default="", help="default: a fresh PostgreSQL database bench_serve")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/5")
    parser.add_argument("--artifacts", default="", help="default: a temporary folder")
    parser.add_argument("--skip-setup", action="store_true", help="reuse --database-url and --artifacts as they are")
    options = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")

    artifacts = Path(options.artifacts or tempfile.mkdtemp(prefix="serve-load-"))
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
        print("setup: migrate, import the sample, train a version inline ...", flush=True)
        manage(env, "migrate", "-v0")
        manage(env, "import_books", str(SAMPLE))
        manage(env, "train", "--inline", "--epochs", "10")
    active = (artifacts / "active.json").read_text()
    version = re.search(r'"version": "([^"]+)"', active).group(1)
    ids = np.load(artifacts / "versions" / version / "book_ids.npy")

    if not options.port:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            options.port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{options.port}"
    gunicorn = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "recommender.wsgi", "--bind", f"127.0.0.1:{options.port}",
         "--workers", str(options.workers), "--worker-class", "gthread", "--threads", str(options.threads),
         "--backlog", "2048", "--log-level", "warning"],
        cwd=ROOT, env=env,
    )
    try:
        wait_healthy(url)
        workers = [int(p) for p in subprocess.check_output(["pgrep", "-P", str(gunicorn.pid)], text=True).split()]
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(LUA % ",".join(map(str, ids.tolist())))
        print(f"version {version}: {len(ids)} books; gunicorn {options.workers} workers x {options.threads} threads")
        subprocess.run(["wrk", "-t2", "-c16", "-d5s", "-s", script.name, url], capture_output=True, check=True)
        print(f"\n{'conns':>5} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}  worker RSS / PSS (MB)")
        verdicts = []
        for connections in options.connections:
            output = subprocess.run(
                ["wrk", "-t2", f"-c{connections}", f"-d{options.duration}s", "--latency", "-s", script.name, url],
                capture_output=True, text=True, check=True,
            ).stdout
            result = parse_wrk(output)
            memory = [memory_mb(pid) for pid in workers]
            print(f"{connections:>5} {result['rps']:>8.0f} {result['p50_ms']:>7.2f} {result['p99_ms']:>7.2f} "
                  f"{result['errors']:>6}  " + ", ".join(f"{rss:.0f} / {pss:.0f}" for rss, pss in memory), flush=True)
            verdicts.append(
                result["rps"] >= TARGETS["rps"] and result["p99_ms"] <= TARGETS["p99_ms"] and result["errors"] == 0
                and max(rss for rss, _ in memory) <= TARGETS["rss_mb"]
            )
        print(f"\ntargets: >= {TARGETS['rps']} req/s, p99 <= {TARGETS['p99_ms']} ms, 0 errors, "
              f"<= {TARGETS['rss_mb']} MB RSS per worker: " + ("MEETS" if all(verdicts) else "MISSES"))
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)


if __name__ == "__main__":
    main()
