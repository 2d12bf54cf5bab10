"""Build real container images without a Docker daemon, for tests and the demo.

Real packages are fetched into a cache (`fetch_debs`, `fetch_wheels`, `fetch_npm`) and unpacked
into layers (`DpkgDatabase.install`, `install_wheels`, `install_npm_packages`). `ImageBuilder`
writes the layers as an OCI image layout or a `docker save` archive, and `push` copies a layout
to a registry with skopeo. Run `python -m tools.imagebuild --help` for the command line.
"""

from tools.imagebuild.dpkg import DebPackage, DpkgDatabase, parse_control, read_deb
from tools.imagebuild.errors import ImageBuildError
from tools.imagebuild.fetch import DEFAULT_CACHE_DIR, fetch_debs, fetch_npm, fetch_wheels
from tools.imagebuild.image import (
    BuiltImage,
    BuiltLayer,
    ImageBuilder,
    ImageConfig,
    nop_step,
    push,
    run_step,
)
from tools.imagebuild.layer import FIXED_MTIME, EntryType, Layer, LayerEntry, normalize_path
from tools.imagebuild.npm import InstalledNpmPackage, install_npm_packages
from tools.imagebuild.wheel import InstalledWheel, install_wheels

__all__ = [
    "DEFAULT_CACHE_DIR",
    "FIXED_MTIME",
    "BuiltImage",
    "BuiltLayer",
    "DebPackage",
    "DpkgDatabase",
    "EntryType",
    "ImageBuildError",
    "ImageBuilder",
    "ImageConfig",
    "InstalledNpmPackage",
    "InstalledWheel",
    "Layer",
    "LayerEntry",
    "fetch_debs",
    "fetch_npm",
    "fetch_wheels",
    "install_npm_packages",
    "install_wheels",
    "nop_step",
    "normalize_path",
    "parse_control",
    "push",
    "read_deb",
    "run_step",
]
