"""CPE 2.3 names generated for cataloged packages from their type, name, version and metadata.

NVD names affected software by CPE, so each package gets a few guesses of the vendor and
product that NVD would use. The rules follow the candidate rules of Syft 1.18
(`syft/pkg/cataloger/internal/cpegenerate`), in a table and functions of this project's own:

- Python, npm, gems, Rust crates: the product is the name and the vendor the name, `NAME_project`
  or the project's scope, author or code host owner.
- Java: vendors and products from the Maven group id (`org.apache.commons` gives the vendor
  `apache`), the artifact id and the manifest's vendor fields. When `apache` is a candidate or
  the first word of the name, it is the only vendor, as in Syft. The same holds for Python.
- Go modules: `HOST/OWNER/REPO` gives vendor `OWNER` and product `REPO`, `golang.org/x/...`
  vendor `golang`, `google.golang.org/...` vendor `google`. Paths on `gopkg.in` or with one
  element after the host give no CPE.
- Composer: `VENDOR/NAME` gives vendor `VENDOR` and product `NAME`. NuGet: `Vendor.Product`
  gives vendor `vendor` and product `vendor.product`.
- dpkg and rpm: the source package name, the package name and the rpm `Vendor` tag. apk: the
  name and the name without a release stream's version (`python` for `python3`), with Python
  and Ruby packages (`py3-NAME`) treated as Python and Ruby packages.
- Any type: the names in `_KNOWN_NAMES` and `_OS_VENDORS`, where NVD's vendor or product
  differs from the package name (`django` is `djangoproject:django`, `curl` is `haxx:curl`).

Syft also crosses every candidate with hyphen and underscore spellings and prefixes of them,
which gives 30 CPEs for PyYAML. Here the count is bounded: at most `MAX_VENDORS` vendors and
`MAX_PRODUCTS` products per package, in the order of the rules above, so at most 6 CPEs. Syft's
lookup in its copy of the NVD CPE dictionary is not done, so where NVD's names are not derived
from the package (`python:requests`) only `_KNOWN_NAMES` finds them.

CPEs a cataloger set itself (binary classifiers, the Go standard library) are curated and kept
as they are, as Syft keeps CPEs that it did not generate.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from chalicelib.analysis.interface import Package, PackageType
from chalicelib.analysis.java import manifest_group_ids

MAX_VENDORS = 3
"""Vendor candidates used per package."""
MAX_PRODUCTS = 2
"""Product candidates used per package."""

ANY = "*"
"""CPE 2.3 logical value ANY, for unknown or unused components."""

# Vendors and products that NVD uses where they differ from the package's name: the key is the
# package type and lower-case name, the value the extra (vendors, products), tried first.
_KNOWN_NAMES: dict[tuple[PackageType, str], tuple[tuple[str, ...], tuple[str, ...]]] = {
    (PackageType.PYTHON, "django"): (("djangoproject",), ()),
    (PackageType.PYTHON, "pip"): (("pypa",), ()),
    (PackageType.PYTHON, "requests"): (("python",), ()),
    (PackageType.PYTHON, "cryptography"): (("cryptography.io",), ()),
    (PackageType.PYTHON, "jinja2"): (("palletsprojects",), ()),
    (PackageType.PYTHON, "flask"): (("palletsprojects",), ()),
    (PackageType.PYTHON, "werkzeug"): (("palletsprojects",), ()),
    (PackageType.PYTHON, "urllib3"): (("python",), ()),
    (PackageType.NPM, "express"): (("openjsf", "expressjs"), ()),
    (PackageType.NPM, "handlebars"): (("handlebarsjs",), ()),
    (PackageType.NPM, "mustache"): ((), ("mustache.js",)),
    (PackageType.NPM, "hapi"): ((), ("hapi_server_framework",)),
    (PackageType.JAVA, "spring-core"): (("vmware", "pivotal_software"), ("spring_framework",)),
    (PackageType.JAVA, "spring-beans"): (("vmware", "pivotal_software"), ("spring_framework",)),
    (PackageType.JAVA, "spring-web"): (("vmware", "pivotal_software"), ("spring_framework",)),
    (PackageType.JAVA, "spring-security-core"): (("vmware",), ("spring_security",)),
    (PackageType.JAVA, "log4j-core"): (("apache",), ("log4j",)),
    (PackageType.JAVA, "elasticsearch"): (("elastic",), ()),
    (PackageType.GEM, "rails"): (("rubyonrails",), ()),
    (PackageType.GEM, "rack"): (("rack_project",), ()),
    (PackageType.NUGET, "newtonsoft.json"): (("newtonsoft",), ("json.net",)),
}

# Upstream projects of Linux distribution packages, by upstream name, whose NVD vendor differs
# from the name. Keys are upstream names as `_os_names` derives them.
_OS_VENDORS: dict[str, tuple[str, ...]] = {
    "bash": ("gnu",),
    "coreutils": ("gnu",),
    "curl": ("haxx",),
    "libcurl": ("haxx",),
    "dnsmasq": ("thekelleys",),
    "firefox": ("mozilla",),
    "firefox-esr": ("mozilla",),
    "git": ("git-scm",),
    "glibc": ("gnu",),
    "gzip": ("gnu",),
    "libxml2": ("xmlsoft",),
    "make": ("gnu",),
    "musl": ("musl-libc",),
    "ruby": ("ruby-lang",),
    "sqlite3": ("sqlite",),
    "tar": ("gnu",),
    "wpa_supplicant": ("w1.fi",),
}

# Gems shipped with Ruby itself, which NVD files under Ruby's vendor.
_RUBY_DEFAULT_GEMS = frozenset(
    ("cgi", "date", "net-imap", "openssl", "rake", "rdoc", "rexml", "uri", "webrick")
)

# Package types whose `apache` vendor candidates or `apache-` names make `apache` the only vendor.
_APACHE_TYPES = frozenset((PackageType.JAVA, PackageType.PYTHON))

# Java group ids start with a reversed domain name, and the first label is no vendor.
_GROUP_PREFIXES = ("com.", "org.", "net.", "io.", "be.")
# Group id labels that name a role rather than a vendor or product.
_NOT_GROUP_NAMES = frozenset(("plugin", "plugins", "client"))

# Characters that the CPE 2.3 formatted string binding quotes with a backslash: all printable
# ASCII punctuation except `-`, `.` and `_` (input is lower-cased first).
_QUOTED = re.compile(r"[^a-z0-9._-]")
_PRINTABLE_ASCII = re.compile(r"[!-~]+")

# An apk package named after a release stream, `python3` or `openssl1.1-compat`: the stream
# `python`, then the stream's version number, then an optional subpackage suffix.
_APK_STREAM = re.compile(r"([a-z][a-z0-9_-]*?)-?\d[\d.]*(?:-([a-z][a-z0-9_-]*))?")
_CODE_HOSTS = re.compile(r"(?:https?|git)://(?:www\.)?(?:github|gitlab)\.com/([\w-]+)/")


def assign_cpes(packages: Iterable[Package]) -> None:
    """Give each package without CPEs the CPEs `generate_cpes` returns, in place."""
    for package in packages:
        if not package.cpes:
            package.cpes = generate_cpes(package)


def generate_cpes(package: Package) -> list[str]:
    """Return CPE 2.3 formatted strings for `package`, likeliest first.

    Returns an empty list when the package gives no usable vendor or product, as a Go module
    on `gopkg.in` does, or has a version that CPE 2.3 cannot carry (with whitespace or
    non-ASCII characters). A missing version becomes ANY.
    """
    version = bind_component(package.version) if package.version else ANY
    if not version:
        return []
    vendors, products = _candidates(package)
    bound_products = [bind_component(product) for product in _bounded(products, MAX_PRODUCTS)]

    cpes: list[str] = []
    for vendor in _bounded(vendors, MAX_VENDORS):
        bound_vendor = bind_component(vendor)
        for bound_product in bound_products:
            cpes.append(_formatted(bound_vendor, bound_product, version, ANY))
    return cpes


def format_cpe(vendor: str, product: str, version: str, target_software: str = ANY) -> str | None:
    """Return the formatted string of an application CPE, or None when a value cannot be bound.

    `vendor` and `product` are plain text and are bound here. `version` and `target_software`
    must already be bound (see `bind_component`), so that `*` can pass as ANY.
    """
    bound_vendor = bind_component(vendor)
    bound_product = bind_component(product)
    if not bound_vendor or not bound_product or not version:
        return None
    return _formatted(bound_vendor, bound_product, version, target_software)


def _formatted(vendor: str, product: str, version: str, target_software: str) -> str:
    return (
        f"cpe:2.3:a:{vendor}:{product}:{version}"
        f":{ANY}:{ANY}:{ANY}:{ANY}:{target_software}:{ANY}:{ANY}"
    )


def bind_component(value: str) -> str:
    """Bind a plain text value as one component of a CPE 2.3 formatted string.

    The value is lower-cased and every printable ASCII character other than a letter, a digit,
    `-`, `.` and `_` is quoted with a backslash, so `*` and `?` are literal rather than
    wildcards. Returns "" for a value that CPE 2.3 cannot carry: empty, or with whitespace,
    control or non-ASCII characters.
    """
    text = value.strip().lower()
    if not _PRINTABLE_ASCII.fullmatch(text):
        return ""
    return _QUOTED.sub(r"\\\g<0>", text)


def _bounded(candidates: Iterable[str], limit: int) -> list[str]:
    """Return the first `limit` distinct candidates that CPE 2.3 can carry, ANY excluded.

    Whitespace inside a candidate becomes `_`, as NVD writes `Commons IO` as `commons_io`.
    """
    chosen: list[str] = []
    for candidate in candidates:
        value = re.sub(r"\s+", "_", candidate.strip().lower())
        if value and value != ANY and value not in chosen and bind_component(value):
            chosen.append(value)
        if len(chosen) == limit:
            break
    return chosen


def _candidates(package: Package) -> tuple[list[str], list[str]]:
    """Return the vendor and product candidates of `package`, likeliest first."""
    name = package.name.strip().lower()
    known_vendors, known_products = _KNOWN_NAMES.get((package.type, name), ((), ()))
    generators = {
        PackageType.PYTHON: _python,
        PackageType.NPM: _npm,
        PackageType.GEM: _gem,
        PackageType.JAVA: _java,
        PackageType.GO: _go,
        PackageType.RUST: _rust,
        PackageType.COMPOSER: _composer,
        PackageType.NUGET: _nuget,
        PackageType.DPKG: _os_package,
        PackageType.APK: _apk,
        PackageType.RPM: _rpm,
    }
    generator = generators.get(package.type, _by_name)
    vendors, products = generator(package, name)
    # NVD files Apache projects under the vendor `apache`, whatever their group id. On Maven
    # and PyPI, names such as `apache-jsp` and `apache-airflow` are Apache projects too.
    apache_name = re.split(r"[-_]", name)[0] == "apache"
    if package.type in _APACHE_TYPES and ("apache" in (*known_vendors, *vendors) or apache_name):
        return ["apache"], [*known_products, *products]
    return [*known_vendors, *vendors], [*known_products, *products]


def _by_name(package: Package, name: str) -> tuple[list[str], list[str]]:
    return [name], [name]


def _with_underscores(name: str) -> list[str]:
    """Return `name` and, if it has hyphens, its spelling with underscores, which NVD prefers."""
    return [name, name.replace("-", "_")] if "-" in name else [name]


def _python(package: Package, name: str) -> tuple[list[str], list[str]]:
    vendors = [name, f"{name}_project"]
    author = _person_name(package.origin)
    if author:
        vendors.append(author)
    return vendors, _with_underscores(name)


def _npm(package: Package, name: str) -> tuple[list[str], list[str]]:
    scope, _, bare_name = name.rpartition("/")
    # TODO: package.json `homepage` and `repository` often name the vendor (a GitHub owner), as
    # in Syft, but the npm cataloger does not keep them.
    if scope:
        # The bare name of a scoped package such as `@babel/core` is too generic for a vendor.
        return [scope.lstrip("@")], _with_underscores(bare_name)
    return [name, f"{name}_project"], _with_underscores(name)


def _gem(package: Package, name: str) -> tuple[list[str], list[str]]:
    vendors = ["ruby-lang"] if name in _RUBY_DEFAULT_GEMS else []
    vendors.append(name)
    homepage = package.metadata.get("homepage")
    if isinstance(homepage, str):
        vendors += _code_host_owner(homepage)
    authors = package.metadata.get("authors")
    if isinstance(authors, list) and authors and isinstance(authors[0], str):
        vendors.append(_person_name(authors[0]))
    vendors.append(f"{name}_project")
    return vendors, _with_underscores(name)


def _rust(package: Package, name: str) -> tuple[list[str], list[str]]:
    return [name, f"{name}_project"], _with_underscores(name)


def _composer(package: Package, name: str) -> tuple[list[str], list[str]]:
    vendor, _, product = name.partition("/")
    if not product:
        return [vendor], [vendor]
    return [vendor], _with_underscores(product)


def _nuget(package: Package, name: str) -> tuple[list[str], list[str]]:
    first, dot, _ = name.partition(".")
    vendors = [first, name] if dot else [name]
    return vendors, [name]


def _go(package: Package, name: str) -> tuple[list[str], list[str]]:
    """Split a module path: `github.com/OWNER/REPO/v2` gives `OWNER` and `REPO/v2`.

    Keeping the rest of the path in the product makes the CPE longer and less likely to match
    an unrelated product of the same owner. A path with only one element after the host, or on
    `gopkg.in`, names no vendor and gives no candidates.
    """
    host, _, path = name.partition("/")
    elements = [element for element in path.strip("/").split("/") if element]
    if not elements:
        return [], []
    if host == "golang.org":
        return ["golang"], ["/".join(elements)]
    if host == "google.golang.org":
        return ["google"], [elements[0]]
    if host == "gopkg.in" or len(elements) < 2:
        return [], []
    return [elements[0]], ["/".join(elements[1:])]


def _java(package: Package, name: str) -> tuple[list[str], list[str]]:
    artifact = name
    pom = package.metadata.get("pom_properties")
    if isinstance(pom, dict) and isinstance(pom.get("artifactId"), str):
        artifact = pom["artifactId"].strip().lower() or name
    groups = _java_groups(package)

    # The label after the domain (`apache` in `org.apache.commons`) is the likeliest vendor,
    # then the manifest's vendor and the artifact id, then the group's other labels.
    first_labels: list[str] = []
    other_labels: list[str] = []
    products = _with_underscores(artifact)
    for group in groups:
        labels = [label for label in group.split(".")[1:] if label not in _NOT_GROUP_NAMES]
        first_labels += labels[:1]
        other_labels += labels[1:]
        # Umbrella projects name their artifacts after a group label (`slf4j-api` of
        # `org.slf4j`, `commons-io` of `org.apache.commons.io`), so it may be the product.
        products += [
            label
            for label in labels[1:]
            if artifact.startswith(label) or artifact.endswith(label)
        ]
    vendors = [*first_labels, *_java_manifest_vendors(package), artifact, *other_labels]
    return vendors, products


def _java_groups(package: Package) -> list[str]:
    """Return the Maven group ids of a Java package: pom.properties first, then the manifest."""
    groups: list[str] = []
    pom = package.metadata.get("pom_properties")
    if isinstance(pom, dict):
        groups.append(str(pom.get("groupId") or ""))
    groups.append(str(package.metadata.get("origin") or ""))
    manifest = package.metadata.get("manifest")
    if isinstance(manifest, dict):
        groups += manifest_group_ids(manifest)
    cleaned = [group.split(";")[0].strip().lower() for group in groups]
    return [
        group
        for group in dict.fromkeys(cleaned)
        if group.startswith(_GROUP_PREFIXES) and " " not in group
    ]


def _java_manifest_vendors(package: Package) -> list[str]:
    manifest = package.metadata.get("manifest")
    if not isinstance(manifest, dict):
        return []
    vendors = []
    for field in ("Implementation-Vendor", "Specification-Vendor", "Bundle-Vendor"):
        value = manifest.get(field)
        if isinstance(value, str) and value and not value.lower().startswith(_GROUP_PREFIXES):
            vendors.append(_person_name(value))
    return vendors


def _os_package(package: Package, name: str) -> tuple[list[str], list[str]]:
    """Put the source package name first: `libssl3` is built from `openssl`, NVD's product."""
    names = _os_names(package, name)
    vendors = [vendor for upstream in names for vendor in _OS_VENDORS.get(upstream, ())]
    return [*vendors, *names], names


def _os_names(package: Package, name: str) -> list[str]:
    source = (package.source_name or "").strip().lower()
    return [source, name] if source and source != name else [name]


def _rpm(package: Package, name: str) -> tuple[list[str], list[str]]:
    vendors, products = _os_package(package, name)
    vendor_tag = package.metadata.get("vendor")
    if isinstance(vendor_tag, str) and vendor_tag:
        # `Red Hat, Inc.` is NVD's `redhat`.
        vendors.append(vendor_tag.split(",")[0].lower().replace(" ", ""))
    return vendors, products


def _apk(package: Package, name: str) -> tuple[list[str], list[str]]:
    """Name apk packages by upstream project: `python3` is Python, `py3-requests` is requests.

    The origin (`source_name`) is not used, as in Syft. The origin of `libcrypto3` is `openssl`,
    and Alpine's security database lists fixes by origin. A CPE naming `openssl` would report
    the subpackage under a project whose fixes a matcher cannot look up by the subpackage.
    """
    upstream = name
    stream = _APK_STREAM.fullmatch(name)
    if stream is not None:
        upstream = stream.group(1) + (f"-{stream.group(2)}" if stream.group(2) else "")
    for prefix, package_type in (("py-", PackageType.PYTHON), ("ruby-", PackageType.GEM)):
        if upstream.startswith(prefix) and len(upstream) > len(prefix):
            bare = upstream[len(prefix) :]
            known = _KNOWN_NAMES.get((package_type, bare), ((), ()))
            return [*known[0], bare, f"{bare}_project"], [*known[1], bare]
    names = [upstream, name] if upstream != name else [name]
    vendors = list(_OS_VENDORS.get(upstream, ()))
    return [*vendors, *names], names


def _code_host_owner(url: str) -> list[str]:
    """Return the owner of a GitHub or GitLab project URL, which is often NVD's vendor."""
    match = _CODE_HOSTS.match(url.strip())
    return [match.group(1)] if match else []


def _person_name(text: str | None) -> str:
    """Turn an author such as `The Pallets Team <contact@palletsprojects.com>` into a vendor.

    The name is lower-cased, a leading `the` dropped and spaces, hyphens and dots become `_`.
    An e-mail address alone gives its local part. Returns "" for no author.
    """
    if not text:
        return ""
    first = text.split(",")[0].strip()
    name = first.split("<")[0].split("(")[0].strip()
    if not name or "@" in name:
        address = name or first.strip(" <>")
        name = address.split("@")[0]
    name = re.sub(r"[\s.-]+", "_", name.strip().lower())
    return name.removeprefix("the_")


__all__: Sequence[str] = ("assign_cpes", "bind_component", "format_cpe", "generate_cpes")
