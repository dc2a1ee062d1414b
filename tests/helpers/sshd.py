"""A real OpenSSH server on loopback for DVC-over-SSH tests.

The test starts /usr/sbin/sshd (Debian's openssh-server) on a free high port of 127.0.0.1 with its own
sshd_config, a throwaway ed25519 host key and a throwaway user key, all in tmp_path, and kills it at
teardown. Nothing of the machine's own ssh setup is read or changed: no PAM, no system host keys, no
~/.ssh, no known_hosts (DVC's ssh plugin does not check host keys unless told to).
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

SSHD = os.environ.get("HENRYVC_TEST_SSHD", "/usr/sbin/sshd")
SSH_KEYGEN = shutil.which("ssh-keygen") or "/usr/bin/ssh-keygen"
PRIVSEP_DIR = Path("/run/sshd")  # sshd running as root refuses to start without it
START_TIMEOUT_S = 20.0

SSHD_CONFIG = """\
ListenAddress 127.0.0.1
Port {port}
HostKey {host_key}
PidFile {pid_file}
AuthorizedKeysFile {authorized_keys}
UsePAM no
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers {user}
MaxSessions 32
MaxStartups 32
Subsystem sftp internal-sftp
LogLevel VERBOSE
"""


@dataclass
class SshServer:
    """A running sshd: where it listens, who may log in, with which key, and its log."""

    host: str
    port: int
    user: str
    keyfile: Path
    log: Path
    process: subprocess.Popen

    def url(self, path: Path) -> str:
        """The DVC remote URL of absolute PATH on this server (user and port in the URL)."""
        return f"ssh://{self.user}@{self.host}:{self.port}{Path(path).resolve()}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def logins(self) -> int:
        """How many public-key logins the server accepted so far."""
        return self.log_text().count("Accepted publickey for ")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def unavailable(reason: str) -> None:
    """Skip locally, fail under CI: CI installs openssh-server, so a missing sshd there is a defect."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"real sshd needed under CI: {reason}")
    pytest.skip(reason)


def keygen(path: Path) -> Path:
    """A throwaway ed25519 key pair without passphrase at PATH (+ .pub)."""
    subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", "henryvc-test", "-f", str(path)],
                   check=True, capture_output=True)
    return path


def free_port() -> int:
    """A port the kernel just handed out on 127.0.0.1 (high, ephemeral range)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _banner(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            return sock.recv(64).startswith(b"SSH-2.0-OpenSSH")
    except OSError:
        return False


def start_sshd(folder: Path, sftp: bool = True) -> SshServer:
    """Start sshd on a free loopback port with keys and config in FOLDER; wait until it answers.

    SFTP False: a server without the sftp subsystem (logins work, DVC's ssh remote cannot)."""
    if not Path(SSHD).is_file():
        unavailable(f"{SSHD} is not installed (Debian: apt-get install openssh-server)")
    if not Path(SSH_KEYGEN).is_file():
        unavailable("ssh-keygen is not installed (Debian: apt-get install openssh-client)")
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
    host_key = keygen(folder / "host_ed25519")
    user_key = keygen(folder / "user_ed25519")
    authorized = folder / "authorized_keys"
    shutil.copyfile(user_key.with_suffix(".pub"), authorized)
    user = getpass.getuser()
    last_error = ""
    for _ in range(3):  # a free port can be taken between asking and binding: try another
        port = free_port()
        config = folder / "sshd_config"
        text = SSHD_CONFIG.format(port=port, host_key=host_key, pid_file=folder / "sshd.pid",
                                  authorized_keys=authorized, user=user)
        config.write_text(text if sftp else text.replace("Subsystem sftp internal-sftp\n", ""))
        log = folder / "sshd.log"
        with log.open("w") as handle:
            process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=handle,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and process.poll() is None and not _banner(port):
            time.sleep(0.05)
        if process.poll() is None and _banner(port):
            return SshServer("127.0.0.1", port, user, user_key, log, process)
        if process.poll() is None:
            process.kill()
        process.wait()
        last_error = log.read_text(errors="replace").strip()
    unavailable(f"sshd did not start: {last_error[-500:]}")
    raise AssertionError("unreachable")


@pytest.fixture
def sshd_without_sftp(tmp_path_factory):
    """A real sshd that accepts the key but serves no SFTP subsystem."""
    server = start_sshd(tmp_path_factory.mktemp("sshd-nosftp"), sftp=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sshd(tmp_path_factory):
    """A real sshd on 127.0.0.1:<free port> accepting one throwaway key; stopped at teardown."""
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    try:
        yield server
    finally:
        server.stop()
