"""runtime_libs: the runtime image installs exactly the shared libraries the
programs load.

For each built program, `ldd` lists every shared library it loads (direct
and indirect); `dpkg -S` names the Debian package of each. Every such
package that debian:12-slim does not already have must be in
compose/runtime-packages.txt (the list the Dockerfile's runtime stage
installs), and every package of the list must be needed by some program.
The Dockerfile must install that list in its runtime stage and build with
scripts/deps --build (the README's own list), which the test also checks.

A self-check runs the same comparison against the list with one package
removed and with a package no program needs added, and requires both to be
reported: a comparison that cannot fail would prove nothing.

usage: runtime_libs.py --packages compose/runtime-packages.txt
                       --dockerfile compose/Dockerfile PROGRAM...
"""

import argparse
import os
import re
import subprocess
import sys

# The packages of debian:12-slim (bookworm), which the runtime stage starts
# from: debootstrap's minbase, i.e. the Priority: required packages and what
# they depend on (apt brings libstdc++6, libgnutls30, libsystemd0 and the
# compression libraries). Libraries of these packages need no line in the
# list. Neither libssl3 nor libsasl2-2 is here: slim has no OpenSSL.
SLIM_PACKAGES = frozenset(
    """
    adduser apt base-files base-passwd bash bsdutils coreutils dash debconf
    debian-archive-keyring debianutils diffutils dpkg findutils gcc-12-base
    gpgv grep gzip hostname init-system-helpers libacl1 libapt-pkg6.0 libattr1
    libaudit-common libaudit1 libblkid1 libbz2-1.0 libc-bin libc6 libcap-ng0
    libcap2 libcom-err2 libcrypt1 libdb5.3 libdebconfclient0 libffi8
    libgcc-s1 libgcrypt20 libgmp10 libgnutls30 libgpg-error0 libhogweed6
    libidn2-0 liblz4-1 liblzma5 libmd0 libmount1 libnettle8 libp11-kit0
    libpam-modules libpam-modules-bin libpam-runtime libpam0g libpcre2-8-0
    libseccomp2 libselinux1 libsemanage-common libsemanage2 libsepol2
    libsmartcols1 libstdc++6 libsystemd0 libtasn1-6 libtinfo6 libudev1
    libunistring2 libuuid1 libxxhash0 libzstd1 login mawk mount ncurses-base
    ncurses-bin passwd perl-base sed sysvinit-utils tar tzdata usr-is-merged
    util-linux util-linux-extra zlib1g
    """.split()
)


def read_list(path):
    pkgs = []
    for line in open(path, encoding="utf-8"):
        line = line.split("#", 1)[0].strip()
        if line:
            pkgs.append(line)
    return pkgs


def ldd_paths(program):
    """The absolute paths of the shared libraries `ldd` says PROGRAM loads;
    a library ldd cannot find is an error."""
    out = subprocess.run(["ldd", program], capture_output=True, text=True, check=True).stdout
    paths = []
    for line in out.splitlines():
        line = line.strip()
        if "not found" in line:
            raise SystemExit(f"FAIL: {program}: ldd: {line}")
        m = re.match(r"(\S+) => (/\S+) \(", line) or re.match(r"(/\S+) \(", line)
        if m:
            paths.append(m.groups()[-1] if len(m.groups()) > 1 else m.group(1))
    return paths


def spellings(path):
    """With merged /usr, ldd's /lib path and dpkg's /usr/lib record name the
    same file: every spelling of the path and of its target."""
    out = []
    for p in (path, os.path.realpath(path)):
        for q in (p, p[len("/usr"):] if p.startswith("/usr/") else "/usr" + p):
            if q not in out:
                out.append(q)
    return out


def dpkg_packages(paths):
    """{path: the Debian package owning it, or None}, with one `dpkg -S`."""
    wanted = {p: spellings(p) for p in paths}
    every = sorted({q for qs in wanted.values() for q in qs})
    # Exit 1 when some spelling is unknown, which is expected: read stdout.
    out = subprocess.run(["dpkg", "-S", *every], capture_output=True, text=True).stdout
    owner_of = {}
    for line in out.splitlines():
        # "libssl3:amd64: /usr/lib/x86_64-linux-gnu/libssl.so.3"
        owner, _, owned = line.rpartition(": ")
        if owner and "diversion" not in owner:
            owner_of[owned] = owner.split(",")[0].split(":")[0].strip()
    return {p: next((owner_of[q] for q in qs if q in owner_of), None) for p, qs in wanted.items()}


def compare(needed, listed):
    """Messages for packages needed but not listed, and listed but not needed."""
    problems = []
    for pkg in sorted(set(needed) - set(listed)):
        problems.append(f"'{pkg}' is needed ({', '.join(sorted(needed[pkg]))}) but not in the list")
    for pkg in sorted(set(listed) - set(needed)):
        problems.append(f"'{pkg}' is in the list but no program loads a library of it")
    return problems


def check_dockerfile(path):
    text = open(path, encoding="utf-8").read()
    stages = re.split(r"(?m)^FROM ", text)
    problems = []
    if len(stages) < 3:
        return [f"{path}: not a multi-stage build"]
    build, runtime = stages[1], stages[-1]
    if not build.startswith("debian:12 ") or "scripts/deps --build" not in build:
        problems.append(f"{path}: the build stage does not install with scripts/deps --build on debian:12")
    if "scripts/build" not in build:
        problems.append(f"{path}: the build stage does not build with scripts/build")
    if not runtime.startswith("debian:12-slim"):
        problems.append(f"{path}: the runtime stage is not debian:12-slim")
    if "compose/runtime-packages.txt" not in runtime or "apt-get install" not in runtime:
        problems.append(f"{path}: the runtime stage does not install compose/runtime-packages.txt")
    if not re.search(r"(?m)^USER (?!root)\S+", runtime):
        problems.append(f"{path}: the runtime stage does not switch to a non-root user")
    return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--packages", required=True)
    ap.add_argument("--dockerfile", required=True)
    ap.add_argument("programs", nargs="+")
    args = ap.parse_args()

    needed = {}  # package -> the libraries of it that the programs load
    unowned = []
    libs = {program: ldd_paths(program) for program in args.programs}
    owners = dpkg_packages({lib for paths in libs.values() for lib in paths})
    for program, paths in libs.items():
        for lib in paths:
            pkg = owners[lib]
            if pkg is None:
                unowned.append(f"{os.path.basename(program)}: {lib} belongs to no Debian package")
                continue
            if pkg not in SLIM_PACKAGES:
                needed.setdefault(pkg, set()).add(os.path.basename(lib))
    listed = read_list(args.packages)

    failures = list(unowned)
    failures += compare(needed, listed)
    failures += check_dockerfile(args.dockerfile)
    for pkg in sorted(needed):
        print(f"needed: {pkg} ({', '.join(sorted(needed[pkg]))})")

    # Self-check: the comparison must see a missing and an unneeded package.
    if listed:
        short = listed[1:]
        if not any(f"'{listed[0]}' is needed" in p for p in compare(needed, short)):
            failures.append(f"self-check: removing '{listed[0]}' from the list went unnoticed")
    if not any("'libcurl4' is in the list" in p for p in compare(needed, listed + ["libcurl4"])):
        failures.append("self-check: an unneeded 'libcurl4' in the list went unnoticed")

    if failures:
        for f in failures:
            print(f"FAIL: {f}", file=sys.stderr)
        return 1
    print(f"ok: {len(listed)} packages in {args.packages}, each needed, none missing")
    return 0


if __name__ == "__main__":
    sys.exit(main())
