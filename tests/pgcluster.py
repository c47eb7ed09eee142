"""A throwaway PostgreSQL cluster for tests: Debian's `postgresql` binaries, a temp data dir, a loopback port,
fsync off, trust auth. initdb and pg_ctl refuse to run as root, so as root they run as the `postgres` user.

    cluster = Cluster.start()            # about 1.5 s
    url = cluster.create_database()      # a fresh, empty database: postgresql://postgres@127.0.0.1:PORT/tN
    cluster.stop()
"""
from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def find_bin() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3])
                   if Path(p).parts[-3].isdigit() else 0)
    return Path(found[-1]).parent if found else None


def unavailable() -> str | None:
    """Why no cluster can be started here, or None when one can."""
    if find_bin() is None:
        return ("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): "
                "`make postgres-deps` installs Debian's postgresql as root")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no `postgres` user to run initdb and pg_ctl as"
        if not shutil.which("runuser"):
            return "running as root and there is no runuser to run initdb and pg_ctl as postgres"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install 'psycopg[binary]')"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    def __init__(self, bindir: Path, root: Path, port: int):
        self.bindir = bindir
        self.root = root  # temp dir holding the data dir and the server log
        self.data = root / "data"
        self.port = port
        self.seconds = 0.0  # how long start() took
        self._names = itertools.count(1)

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(a) for a in args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=True, capture_output=True, text=True, cwd="/")

    @classmethod
    def start(cls, options: str = "") -> Cluster:
        """`options`: more server settings (`-c name=value …`), e.g. pg_stat_statements for profiling."""
        started = time.monotonic()
        bindir = find_bin()
        assert bindir is not None
        root = Path(tempfile.mkdtemp(prefix="tidings-pg-"))
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(root, pw.pw_uid, pw.pw_gid)
        cluster = cls(bindir, root, _free_port())
        try:
            cluster._run(bindir / "initdb", "-D", cluster.data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                         "--locale=C", "--no-sync", "--no-instructions")
            options = (f"-p {cluster.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
                       "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 " + options)
            cluster._run(bindir / "pg_ctl", "-D", cluster.data, "-l", root / "server.log", "-w", "-t", "60",
                         "-o", options, "start")
        except subprocess.CalledProcessError as e:
            log = (root / "server.log").read_text(errors="replace") if (root / "server.log").exists() else ""
            shutil.rmtree(root, ignore_errors=True)
            raise RuntimeError(f"could not start PostgreSQL: {e.stderr}\n{log}") from e
        cluster.seconds = time.monotonic() - started
        return cluster

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self) -> str:
        """A fresh empty database; returns its URL."""
        import psycopg
        name = f"t{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE template0 STRATEGY file_copy")
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run(self.bindir / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
