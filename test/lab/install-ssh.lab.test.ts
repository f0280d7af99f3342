/**
 * deploy/install.sh against a real OpenSSH server, as a user installs onto an existing Raspberry
 * Pi OS / Debian box, then reinstalls over an edited config and uninstalls.
 *
 * The "Pi" is this machine seen from a private mount namespace inside its own network namespace
 * (198.18.70.2, reached from a "dev" namespace through `nc` as ssh's ProxyCommand, while the script
 * itself runs here, where the npm registry is). In that mount namespace /etc, /usr, /opt, /var,
 * /root and /home are overlays whose upper layers live in this test's directory, and /run and /tmp
 * are fresh tmpfs: the user, the unit, /opt/hikari-gw and /usr/local/bin/node the script installs
 * land there, never on this machine (checked before and after). sshd starts only once every
 * overlay is in place. systemd is not running here, so a `systemctl` that records its calls sits
 * first on root's PATH (/usr/local/sbin, in the overlay), beside an `uname` that answers aarch64
 * for -m: the payload is the real arm64 one and its Node runs under qemu-user (binfmt_misc),
 * against Debian's arm64 cross C libraries linked where an arm64 Debian keeps its own.
 * Everything else is real: sshd, ssh with a key pair and a known_hosts this test writes,
 * systemd-sysusers, and sudo for the Pi's usual non-root login.
 */
import { execFile, execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labReady } from "./env.js";
import { Lab, waitForLine } from "./netns.js";

const repo = fileURLToPath(new URL("../../", import.meta.url));
const PI = "198.18.70.2";
const BINFMT_ARM64 = "/proc/sys/fs/binfmt_misc/qemu-aarch64";
const ARM64_LIBS = "/usr/aarch64-linux-gnu/lib"; // Debian's libc6-arm64-cross, libstdc++6-arm64-cross
const ready = labReady(
  "install-ssh lab",
  ["sshd", "ssh", "ssh-keygen", "nc", "unshare", "sudo", "useradd", "systemd-sysusers", "stat", "aarch64-linux-gnu-g++", "aarch64-linux-gnu-strip", "make", "python3", "file", "openssl", "npm"],
  [BINFMT_ARM64, `${ARM64_LIBS}/ld-linux-aarch64.so.1`, `${ARM64_LIBS}/libstdc++.so.6`],
);

const INSTALL_TIMEOUT_MS = 540_000;
const version = (JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as { version: string }).version;
const nodeVersion = /^NODE_VERSION=(.*)$/m.exec(readFileSync(join(repo, "firmware/packages.conf"), "utf8"))?.[1];

/** What the install writes, as this machine (outside the lab) sees it: must not change. */
const HOST_PATHS = ["/opt/hikari-gw", "/etc/hikari-gw", "/etc/systemd/system/hikari-gw.service", "/usr/local/bin/node", "/usr/local/bin/hikari-gw", "/usr/local/lib/hikari-gw", "/usr/lib/sysusers.d/hikari-gw.conf", "/usr/lib/sysctl.d/60-hikari-gw.conf", "/var/lib/hikari-gw", "/usr/local/sbin/systemctl", "/usr/local/sbin/uname", "/home/pi"];
function hostSnapshot(): string {
  const files = HOST_PATHS.map((p) => {
    try {
      const s = statSync(p);
      return `${p} ${s.mode} ${s.size} ${s.mtimeMs}`;
    } catch {
      return `${p} absent`;
    }
  });
  const users = ["hikari-gw", "pi"].map((u) => {
    try {
      return execFileSync("getent", ["passwd", u], { encoding: "utf8" }).trim();
    } catch {
      return `${u} absent`;
    }
  });
  return [...files, ...users].join("\n");
}

/** The Pi's mount namespace: every overlay checked before sshd starts (set -e: no sshd otherwise). */
const PI_NAMESPACE = `set -eu
t=$1
for d in etc usr opt var root home; do
  mkdir -p "$t/upper/$d" "$t/work/$d"
  mount -t overlay "hgwinst-$d" -o "lowerdir=/$d,upperdir=$t/upper/$d,workdir=$t/work/$d" "/$d"
  [ "$(stat -f -c %T "/$d")" = overlayfs ] || { echo "/$d is not an overlay" >&2; exit 1; }
done
mount -t tmpfs -o mode=0755 hgwinst-run /run
mkdir -p /run/sshd /run/lab
mount --bind "$t/lab" /run/lab
mount -t tmpfs -o mode=1777 hgwinst-tmp /tmp
# An arm64 box's C runtime where its Node looks for it (the loader, /usr/lib/aarch64-linux-gnu),
# taken from Debian's arm64 cross libraries.
ln -s /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 /usr/lib/ld-linux-aarch64.so.1
for f in /usr/aarch64-linux-gnu/lib/*.so*; do ln -s "$f" /usr/lib/aarch64-linux-gnu/; done
# The Pi's usual login: a user with sudo (a password-less account would count as locked for sshd).
useradd --create-home --shell /bin/bash pi
usermod -p '*' pi
printf 'pi ALL=(ALL) NOPASSWD: ALL\\n' >/etc/sudoers.d/pi
chmod 0440 /etc/sudoers.d/pi
echo "pi namespace ready"
exec /usr/sbin/sshd -D -e -f /run/lab/sshd_config
`;

const FAKE_SYSTEMCTL = `#!/bin/sh
# The lab Pi has no systemd running: record what the install asks of it.
echo "$*" >>/run/lab/systemctl.log
exit 0
`;
const FAKE_UNAME = `#!/bin/sh
# The lab Pi is this machine's kernel reporting the arm64 box the payload is built for.
[ "$*" = -m ] && { echo aarch64; exit 0; }
exec /usr/bin/uname "$@"
`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  secs: number;
}

function run(cmd: string, args: string[], opts: { timeoutMs: number; input?: string }): Promise<Run> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { cwd: repo, encoding: "utf8", timeout: opts.timeoutMs, killSignal: "SIGKILL", maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: unknown; killed?: boolean }) | null;
      if (e && (e.killed || typeof e.code !== "number")) return reject(new Error(`${cmd} ${args.join(" ")}: ${e.message.split("\n")[0]}\n${stdout}${stderr}`));
      resolve({ code: e ? (e.code as number) : 0, stdout, stderr, secs: (Date.now() - t0) / 1000 });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

describe.skipIf(!ready)("deploy/install.sh over SSH onto a lab Pi", () => {
  const lab = new Lab("hgwinst");
  let dir = "";
  let sshOpts: string[] = [];
  let hostBefore = "";
  const timings: string[] = [];

  const systemctlCalls = () => (existsSync(join(dir, "lab/systemctl.log")) ? readFileSync(join(dir, "lab/systemctl.log"), "utf8").trim().split("\n") : []);
  const onPi = async (command: string, opts: { user?: string; input?: string } = {}) => {
    const r = await run("ssh", [...sshOpts.flatMap((o) => ["-o", o]), `${opts.user ?? "root"}@${PI}`, command], { timeoutMs: 120_000, input: opts.input });
    return r;
  };
  const ok = async (command: string, opts: { user?: string; input?: string } = {}) => {
    const r = await onPi(command, opts);
    if (r.code !== 0) throw new Error(`on the Pi: ${command} exited ${r.code}\n${r.stdout}${r.stderr}`);
    return r.stdout.trim();
  };
  const installSh = async (what: string, args: string[]) => {
    const r = await run("bash", [join(repo, "deploy/install.sh"), ...sshOpts.flatMap((o) => ["--ssh-option", o]), ...args], { timeoutMs: INSTALL_TIMEOUT_MS });
    timings.push(`${what}: ${r.secs.toFixed(1)} s (exit ${r.code})`);
    // eslint-disable-next-line no-console
    console.log(`install-ssh lab: ${what} took ${r.secs.toFixed(1)} s`);
    if (r.code !== 0) throw new Error(`install.sh ${args.join(" ")} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
    return `${r.stdout}${r.stderr}`;
  };

  beforeAll(async () => {
    hostBefore = hostSnapshot();
    dir = mkdtempSync(join(tmpdir(), "hgwinst-"));
    mkdirSync(join(dir, "lab"));
    mkdirSync(join(dir, "upper/usr/local/sbin"), { recursive: true });
    for (const [name, text] of [["systemctl", FAKE_SYSTEMCTL], ["uname", FAKE_UNAME]]) {
      writeFileSync(join(dir, "upper/usr/local/sbin", name), text);
      chmodSync(join(dir, "upper/usr/local/sbin", name), 0o755);
    }
    const lab_ = join(dir, "lab");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "hgwinst-host", "-f", join(lab_, "ssh_host_ed25519_key")]);
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "hgwinst-dev", "-f", join(dir, "id_ed25519")]);
    writeFileSync(join(lab_, "authorized_keys"), readFileSync(join(dir, "id_ed25519.pub")));
    const hostKey = readFileSync(join(lab_, "ssh_host_ed25519_key.pub"), "utf8").split(" ").slice(0, 2).join(" ");
    writeFileSync(join(dir, "known_hosts"), `${PI} ${hostKey}\n`);
    writeFileSync(
      join(lab_, "sshd_config"),
      [
        `ListenAddress ${PI}`,
        "Port 22",
        "HostKey /run/lab/ssh_host_ed25519_key",
        "PidFile /run/sshd.pid",
        // The key file sits in the test's directory (under the world-writable /tmp).
        "AuthorizedKeysFile /run/lab/authorized_keys",
        "StrictModes no",
        "UsePAM no",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password",
        "LogLevel VERBOSE",
        "",
      ].join("\n"),
    );
    sshOpts = [
      `UserKnownHostsFile=${join(dir, "known_hosts")}`,
      "GlobalKnownHostsFile=/dev/null",
      "StrictHostKeyChecking=yes",
      `IdentityFile=${join(dir, "id_ed25519")}`,
      "IdentitiesOnly=yes",
      "BatchMode=yes",
      "ConnectTimeout=10",
      `ProxyCommand=ip netns exec ${lab.ns("dev")} nc %h %p`,
      "LogLevel=ERROR",
    ];

    lab.addHost("pi");
    lab.addHost("dev");
    lab.link({ host: "dev", ifname: "eth0", addr: "198.18.70.1/24" }, { host: "pi", ifname: "eth0", addr: `${PI}/24` });
    const sshd = lab.spawn("pi", "unshare", ["--mount", "--propagation", "private", "sh", "-c", PI_NAMESPACE, "pi-namespace", dir]);
    await waitForLine(sshd, new RegExp(`Server listening on ${PI.replace(/\./g, "\\.")} port 22`), 20_000, "stderr");
  });

  afterAll(async () => {
    // eslint-disable-next-line no-console
    if (timings.length) console.log(`install-ssh lab timings:\n  ${timings.join("\n  ")}`);
    // Whatever still runs in the Pi's namespaces (sshd, a session) is ours: end it by pid.
    for (const host of ["pi", "dev"]) {
      try {
        for (const pid of execFileSync("ip", ["netns", "pids", lab.ns(host)], { encoding: "utf8" }).split("\n").filter(Boolean)) {
          try {
            process.kill(Number(pid), "SIGTERM");
          } catch {
            /* gone */
          }
        }
      } catch {
        /* no namespace */
      }
    }
    await lab.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
    // This machine kept out of it: none of the install's paths or users appeared or changed here.
    if (hostBefore) expect(hostSnapshot()).toBe(hostBefore);
  });

  it("reaches the Pi over SSH, and the Pi is isolated from this machine", async () => {
    expect(await ok("uname -m")).toBe("aarch64");
    expect(await ok("id -un", { user: "pi" })).toBe("pi");
    expect(await ok("sudo -n id -un", { user: "pi" })).toBe("root");
    await ok("touch /opt/hgwinst-probe /etc/hgwinst-probe && ls /opt/hgwinst-probe");
    expect(existsSync("/opt/hgwinst-probe") || existsSync("/etc/hgwinst-probe")).toBe(false);
    await ok("rm /opt/hgwinst-probe /etc/hgwinst-probe");
    expect(await ok("getent passwd hikari-gw || echo none")).toBe("none");
    expect(await ok("ls -A /opt/hikari-gw /usr/local/bin/node 2>&1 || true")).toMatch(/No such file[\s\S]*No such file/);
    // A fresh namespace routes nothing: the install has to turn forwarding on (per namespace, so not this machine's).
    expect(await ok("cat /proc/sys/net/ipv4/ip_forward")).toBe("0");
  });

  it("installs as root: the arm64 build runs there, with its unit, user, dirs and the example config", async () => {
    const out = await installSh("install (root, cold)", [`root@${PI}`]);
    expect(out).toContain("wrote /etc/hikari-gw/config.yaml from the example");
    expect(out).toContain("hikari-gw installed and (re)started");

    // The build: the pinned arm64 Node, the gateway's command, its arm64 raw-socket module.
    expect(await ok("file -bL /usr/local/bin/node")).toMatch(/ARM aarch64/);
    expect(await ok("/usr/local/bin/node --version")).toBe(`v${nodeVersion}`);
    expect(await ok("hikari-gw --version")).toBe(`hikari-gw ${version}`);
    expect(await ok("file -b /opt/hikari-gw/node_modules/raw-socket/build/Release/raw.node")).toMatch(/ARM aarch64/);
    expect(await ok(`/usr/local/bin/node -e 'require("/opt/hikari-gw/node_modules/raw-socket"); console.log("raw-socket loads")'`)).toBe("raw-socket loads");
    expect(await ok("hikari-gw check-config --config /etc/hikari-gw/config.yaml >/dev/null && echo valid")).toBe("valid");
    expect(await ok("stat -c '%U:%G %a' /opt/hikari-gw /opt/hikari-gw/dist/cli.js /usr/local/bin/hikari-gw")).toBe("root:root 755\nroot:root 644\nroot:root 755");
    expect(await ok("ls -d /opt/hikari-gw.new /opt/hikari-gw.old 2>/dev/null || echo none")).toBe("none");

    // The user: a system account with no login, home at the state directory.
    const pw = (await ok("getent passwd hikari-gw")).split(":");
    expect(Number(pw[2])).toBeLessThan(1000);
    expect(pw[5]).toBe("/var/lib/hikari-gw");
    expect(pw[6]).toMatch(/nologin$/);
    expect(await ok("cat /usr/lib/sysusers.d/hikari-gw.conf")).toBe(readFileSync(join(repo, "firmware/rootfs/usr/lib/sysusers.d/hikari-gw.conf"), "utf8").trim());
    // The image's forwarding file, applied at once: media.offload: auto finds ip_forward=1.
    expect(await ok("cat /usr/lib/sysctl.d/60-hikari-gw.conf")).toBe(readFileSync(join(repo, "firmware/rootfs/usr/lib/sysctl.d/60-hikari-gw.conf"), "utf8").trim());
    expect(await ok("cat /proc/sys/net/ipv4/ip_forward")).toBe("1");

    // The unit and the config (secrets: readable by the service's group only).
    expect(await ok("cat /etc/systemd/system/hikari-gw.service")).toBe(readFileSync(join(repo, "systemd/hikari-gw.service"), "utf8").trim());
    expect(await ok("stat -c '%U:%G %a' /etc/hikari-gw /etc/hikari-gw/config.yaml")).toBe("root:root 755\nroot:hikari-gw 640");
    expect(await ok("cat /etc/hikari-gw/config.yaml")).toBe(readFileSync(join(repo, "deploy/config.example.yaml"), "utf8").trim());
    expect(systemctlCalls()).toEqual(["daemon-reload", "enable hikari-gw.service", "restart hikari-gw.service"]);

    // Nothing left behind: the payload's temporary directory is gone.
    expect(await ok("ls -A /tmp")).toBe("");
  }, INSTALL_TIMEOUT_MS + 120_000);

  it("reinstalls as a sudo user over an edited config: the config is kept as the user left it", async () => {
    const edited = (await ok("cat /etc/hikari-gw/config.yaml")).replace("ring_timeout_s: 45", "ring_timeout_s: 31").replace("use-a-long-random-secret", "the-users-own-secret-801") + "\n# edited on the Pi\n";
    expect(edited).toContain("ring_timeout_s: 31");
    await ok("cat >/etc/hikari-gw/config.yaml", { input: edited });
    await ok("touch /opt/hikari-gw/left-from-the-old-build");
    const before = systemctlCalls().length;

    const out = await installSh("reinstall (pi via sudo)", [`pi@${PI}`]);
    expect(out).toContain("keeping the existing /etc/hikari-gw/config.yaml");
    expect(out).not.toContain("wrote /etc/hikari-gw/config.yaml");
    expect(out).not.toContain("replacing /usr/local/bin/node"); // the same Node: left as it is
    expect(`${await ok("cat /etc/hikari-gw/config.yaml")}\n`).toBe(edited);
    expect(await ok("stat -c '%U:%G %a' /etc/hikari-gw/config.yaml")).toBe("root:hikari-gw 640");
    expect(await ok("hikari-gw check-config --config /etc/hikari-gw/config.yaml | grep ring_timeout_s")).toMatch(/ring_timeout_s: 31/);
    // The build was replaced whole, not copied over the old one.
    expect(await ok("ls /opt/hikari-gw/left-from-the-old-build 2>/dev/null || echo gone")).toBe("gone");
    expect(await ok("hikari-gw --version", { user: "pi" })).toBe(`hikari-gw ${version}`);
    expect(systemctlCalls().slice(before)).toEqual(["daemon-reload", "enable hikari-gw.service", "restart hikari-gw.service"]);
    expect((await ok("getent passwd hikari-gw")).split(":")[2]).toMatch(/^\d+$/);
    expect(await ok("ls -A /tmp")).toBe("");
  }, INSTALL_TIMEOUT_MS + 120_000);

  it("--uninstall removes what it installed and keeps the config and the state", async () => {
    const config = await ok("cat /etc/hikari-gw/config.yaml");
    // State as the service leaves it (StateDirectory=, owned by its user).
    await ok("install -d -o hikari-gw -g hikari-gw -m 0750 /var/lib/hikari-gw && echo '{}' >/var/lib/hikari-gw/bindings.json && chown hikari-gw: /var/lib/hikari-gw/bindings.json");
    const before = systemctlCalls().length;

    const out = await installSh("uninstall (root)", ["--uninstall", `root@${PI}`]);
    expect(out).toContain("hikari-gw removed");
    const gone = ["/opt/hikari-gw", "/usr/local/bin/node", "/usr/local/bin/hikari-gw", "/usr/local/lib/hikari-gw", "/etc/systemd/system/hikari-gw.service", "/usr/lib/sysusers.d/hikari-gw.conf", "/usr/lib/sysctl.d/60-hikari-gw.conf"];
    expect(await ok(`for p in ${gone.join(" ")}; do [ -e "$p" ] && echo "left: $p"; done; echo checked`)).toBe("checked");
    expect(systemctlCalls().slice(before)).toEqual(["disable --now hikari-gw.service", "daemon-reload"]);
    // Kept: the config as it was, the state, and the user that owns them.
    expect(await ok("cat /etc/hikari-gw/config.yaml")).toBe(config);
    expect(await ok("stat -c '%U:%G %a' /etc/hikari-gw/config.yaml /var/lib/hikari-gw /var/lib/hikari-gw/bindings.json")).toBe("root:hikari-gw 640\nhikari-gw:hikari-gw 750\nhikari-gw:hikari-gw 644");
    expect(await ok("cat /var/lib/hikari-gw/bindings.json")).toBe("{}");
  }, 180_000);
});
