"""A version folder's manifest: the size and SHA-256 of every file, written at publish, checked before serving.

A copy of a version that is missing a file, truncated (a full disk, an interrupted rsync to a web machine) or
corrupt must never be served, nor crash a web process: memory-mapping a truncated .npy or .ann file can end the
process with SIGBUS the first time a missing page is read. Web processes check a version once when they load it
(`verify`, sizes and checksums); /healthz re-checks the sizes of the served version on every call (cheap stats).

Versions published before manifests existed have none: only the presence of their required files is checked.
Only the standard library is used here, so web processes may import it.
"""

import hashlib
import json
from pathlib import Path

MANIFEST = "manifest.json"
CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(folder: Path) -> dict:
    """Record every file of a complete (staging) folder; call it last, just before publishing."""
    folder = Path(folder)
    files = {
        path.name: {"bytes": path.stat().st_size, "sha256": sha256_of(path)}
        for path in sorted(folder.iterdir())
        if path.is_file() and path.name != MANIFEST
    }
    manifest = {"files": files}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return manifest


def problems(folder: Path, required: tuple[str, ...], checksums: bool = True) -> list[str]:
    """What is wrong with a version folder: [] when it can be served."""
    folder = Path(folder)
    if not folder.is_dir():
        return [f"its folder {folder.name} does not exist"]
    found = [f"{name} is missing" for name in required if not (folder / name).is_file()]
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        files = manifest["files"]
    except FileNotFoundError:
        return found  # published before manifests: presence is all that can be checked
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [*found, f"{MANIFEST} is unreadable: {exc}"]
    for name, expected in sorted(files.items()):
        path = folder / name
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            if name not in required:
                found.append(f"{name} is missing")
            continue
        if size != expected["bytes"]:
            found.append(f"{name} has {size} bytes, {expected['bytes']} expected (truncated or replaced)")
        elif checksums and sha256_of(path) != expected["sha256"]:
            found.append(f"{name} is corrupt (SHA-256 differs from the manifest)")
    return found
