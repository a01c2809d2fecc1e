#!/usr/bin/env python3
"""Fails if a dependency declares a `rust-version` above the crate's own.

Reads `cargo metadata --format-version 1` (the resolved graph of Cargo.lock, all features, every
target platform): the package's `rust-version` is the MSRV promised in Cargo.toml, and every
package in the graph that declares one must need no newer Rust.
"""
import json
import subprocess
import sys

ROOT = "backprop"


def version(text):
    """`1.89` or `1.89.0` as a comparable tuple (missing parts are 0)."""
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def main():
    meta = json.loads(subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--all-features", "--locked"],
        check=True, capture_output=True, text=True).stdout)
    ours = [p for p in meta["packages"] if p["name"] == ROOT and p["source"] is None]
    if len(ours) != 1 or not ours[0].get("rust_version"):
        sys.exit(f"msrv: {ROOT} must declare rust-version in Cargo.toml")
    msrv = ours[0]["rust_version"]
    # Only packages of the resolved graph (metadata also lists packages of unused features).
    used = {node["id"] for node in meta["resolve"]["nodes"]}
    above = sorted(
        (p["name"], p["version"], p["rust_version"])
        for p in meta["packages"]
        if p["id"] in used and p.get("rust_version") and version(p["rust_version"]) > version(msrv)
    )
    for name, ver, rv in above:
        print(f"msrv: {name} {ver} needs Rust {rv}, above {ROOT}'s rust-version {msrv}")
    if above:
        sys.exit(1)
    highest = max((version(p["rust_version"]), p["name"]) for p in meta["packages"]
                  if p["id"] in used and p.get("rust_version"))
    print(f"msrv: rust-version {msrv}; highest among dependencies: "
          f"{highest[1]} {'.'.join(map(str, highest[0]))}")


if __name__ == "__main__":
    main()
