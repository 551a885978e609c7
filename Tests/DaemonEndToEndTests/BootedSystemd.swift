import Foundation
import TestSupport

/// A real systemd, booted as PID 1 of a private PID, mount, cgroup and UTS namespace, that never
/// changes the host:
///
/// - `unshare --mount` first moves the holder into a cgroup v2 group of its own
///   (`casewatch-test-<uuid>` under the unified hierarchy, mounted only inside that namespace:
///   the host has a hybrid v1 layout with nothing mounted for v2), then
///   `unshare --pid --cgroup --uts --fork --mount-proc --kill-child` makes that group the root of
///   systemd's cgroup namespace, where it mounts cgroup2 on /sys/fs/cgroup (systemd needs a
///   writable hierarchy, and the host's v1 ones, name=systemd included, are the host's own).
/// - overlayfs on /usr/local, /etc and /var (upper and work directories in `scratch`): what
///   `make install`, systemd and journald write lands there; tmpfs on /run, /tmp and /var/tmp; a
///   private /dev (tmpfs with the usual nodes bound from the host, /dev/console a file in
///   `scratch`, /dev/kmsg /dev/null) so that no socket unit's symlink (/dev/log), console
///   message or kernel-log write reaches the host; /sys read-only.
/// - a target of its own, `casewatch-test.target` (journald's sockets and service, and the
///   journal's group and ACLs set as systemd-tmpfiles-setup.service does at boot), and
///   sysinit.target replaced by an empty one, with every unit the host or the vendor would pull
///   into it masked in the overlay: nothing the host has enabled starts.
/// - `container=casewatch-test`, so systemd runs as in a container, and `NOTIFY_SOCKET`: it
///   sends READY=1 there once the boot is done. It logs to the journal (its console, before
///   journald is up).
///
/// Commands run inside with `nsenter -t <pid> -m -p -u`. `stop()` kills the holder by its pid
/// (`--kill-child`: systemd, and with it the whole PID namespace, gets SIGKILL), removes the
/// cgroup and the scratch directory.
final class BootedSystemd: @unchecked Sendable {
    let scratch: URL
    let cgroupName: String
    private let holder: Process
    /// systemd's pid on the host (PID 1 inside).
    private(set) var pid: pid_t = 0

    init() throws {
        // Not under /tmp: the namespace mounts its own /tmp over it.
        scratch = Paths.root.appendingPathComponent(".build/systemd-test-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        cgroupName = "casewatch-test-\(UUID().uuidString.prefix(8))"
        let notify = NotifySocket(path: scratch.appendingPathComponent("notify").path)
        try notify.open()
        defer { notify.close() }
        _ = FileManager.default.createFile(atPath: scratch.appendingPathComponent("console.log").path, contents: nil)
        let script = scratch.appendingPathComponent("boot.sh").path
        try Self.bootScript.write(toFile: script, atomically: true, encoding: .utf8)
        try Self.innerScript.write(to: scratch.appendingPathComponent("inner.sh"), atomically: true, encoding: .utf8)
        holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        holder.arguments = ["--mount", "--propagation", "private", "--", "/bin/sh", script, scratch.path, cgroupName]
        holder.standardInput = FileHandle.nullDevice
        _ = FileManager.default.createFile(atPath: scratch.appendingPathComponent("boot.log").path, contents: nil)
        holder.standardOutput = try FileHandle(forWritingTo: scratch.appendingPathComponent("boot.log"))
        holder.standardError = holder.standardOutput
        try holder.run()
        guard notify.await("READY=1", timeout: 60) else {
            let log = (try? String(contentsOf: scratch.appendingPathComponent("boot.log"), encoding: .utf8)) ?? ""
            let console = (try? String(contentsOf: scratch.appendingPathComponent("console.log"), encoding: .utf8)) ?? ""
            stop()
            throw IsolatedJournald.Failure("systemd did not boot (no READY=1 within 60 s): \(log)\n\(console)")
        }
        // The holder exec'd into the inner unshare, whose only child is systemd.
        let children = (try? String(contentsOfFile: "/proc/\(holder.processIdentifier)/task/\(holder.processIdentifier)/children", encoding: .utf8)) ?? ""
        guard let first = children.split(separator: " ").first, let p = pid_t(first) else {
            stop()
            throw IsolatedJournald.Failure("systemd's pid not found under \(holder.processIdentifier)")
        }
        pid = p
    }

    deinit { stop() }

    /// Runs `command` inside (mount, PID and UTS namespaces) to completion.
    func run(_ command: [String], input: Data? = nil) throws -> CommandResult {
        var env = ProcessInfo.processInfo.environment
        env["LANG"] = "C.UTF-8"
        env["LC_ALL"] = nil
        env["SYSTEMD_PAGER"] = ""
        env["SYSTEMD_COLORS"] = "0"
        return try runCommand("/usr/bin/nsenter", ["-t", "\(pid)", "-m", "-p", "-u", "--"] + command, input: input, environment: env)
    }

    /// `sh -c script` inside; throws with its output when it fails.
    @discardableResult
    func sh(_ script: String) throws -> String {
        let r = try run(["/bin/sh", "-c", script])
        guard r.status == 0 else { throw IsolatedJournald.Failure("`\(script)` failed (\(r.status)): \(r.stdout)\n\(r.stderr)") }
        return r.stdout
    }

    /// `systemctl show -p …` of a unit, as a dictionary.
    func show(_ unit: String, _ properties: [String]) throws -> [String: String] {
        let out = try sh("systemctl show \(unit) " + properties.map { "-p \($0)" }.joined(separator: " "))
        var values: [String: String] = [:]
        for line in out.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            values[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        return values
    }

    /// The unit's status and the end of the journal, for failure messages.
    func diagnostics(_ unit: String) -> String {
        let status = (try? run(["systemctl", "status", "--no-pager", "-l", unit]))?.stdout ?? ""
        let journal = (try? run(["journalctl", "--no-pager", "-n", "80"]))?.stdout ?? ""
        return status + "\n" + journal + "\n" + console
    }

    /// What systemd and the units printed on the (private) console, for failure messages.
    var console: String {
        (try? String(contentsOf: scratch.appendingPathComponent("console.log"), encoding: .utf8)) ?? ""
    }

    func stop() {
        if holder.isRunning {
            kill(holder.processIdentifier, SIGKILL)
            holder.waitUntilExit()
        }
        if pid > 0 { kill(pid, SIGKILL) }
        // The cgroup (and what systemd made under it), deepest first, once the namespace's last
        // process is gone (the kernel tears it down after the SIGKILL; rmdir fails until then).
        let mnt = scratch.appendingPathComponent("cgroup-cleanup").path
        try? FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        let group = "\(mnt)/\(cgroupName)"
        _ = try? runCommand(
            "/usr/bin/unshare",
            ["--mount", "--propagation", "private", "--", "/bin/sh", "-c",
             "mount -t cgroup2 none '\(mnt)' || exit 0; for i in $(seq 100); do [ -d '\(group)' ] || exit 0; "
                + "find '\(group)' -depth -type d -exec rmdir {} + 2>/dev/null; sleep 0.1; done; exit 1"])
        try? FileManager.default.removeItem(at: scratch)
    }

    /// Run by `unshare --mount` with the scratch directory and the cgroup name.
    static let bootScript = #"""
        set -e
        S=$1; NAME=$2
        mkdir -p "$S/cg"
        mount -t cgroup2 none "$S/cg"
        mkdir "$S/cg/$NAME"
        echo $$ > "$S/cg/$NAME/cgroup.procs"
        umount "$S/cg"
        exec unshare --pid --cgroup --uts --fork --mount-proc --propagation private --kill-child=SIGKILL \
            /bin/sh "$S/inner.sh" "$S"
        """#

    /// Run as PID 1's parent's child inside the new namespaces: the mounts, the units, then
    /// systemd itself.
    static let innerScript = #"""
        set -e
        S=$1
        for d in usr/local etc var; do
            mkdir -p "$S/upper/$d" "$S/work/$d"
            mount -t overlay overlay -o "lowerdir=/$d,upperdir=$S/upper/$d,workdir=$S/work/$d" "/$d"
        done
        mount -t tmpfs -o mode=0755 tmpfs /run
        mount -t tmpfs -o mode=1777 tmpfs /tmp
        mount -t tmpfs -o mode=1777 tmpfs /var/tmp
        mount -t cgroup2 none /sys/fs/cgroup
        mount -o remount,bind,ro /sys
        # A private /dev.
        mkdir -p "$S/dev"
        mount -t tmpfs -o mode=0755,nosuid tmpfs "$S/dev"
        for n in null zero full random urandom tty; do
            touch "$S/dev/$n"; mount --bind "/dev/$n" "$S/dev/$n"
        done
        touch "$S/dev/console" "$S/dev/kmsg"
        mount --bind "$S/console.log" "$S/dev/console"
        mount --bind /dev/null "$S/dev/kmsg"
        mkdir "$S/dev/pts" "$S/dev/shm" "$S/dev/mqueue"
        mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$S/dev/pts"
        ln -s pts/ptmx "$S/dev/ptmx"
        mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$S/dev/shm"
        ln -s /proc/self/fd "$S/dev/fd"
        ln -s /proc/self/fd/0 "$S/dev/stdin"; ln -s /proc/self/fd/1 "$S/dev/stdout"; ln -s /proc/self/fd/2 "$S/dev/stderr"
        mount --move "$S/dev" /dev
        hostname casewatch-test
        # Only what the test asks for starts.
        E=/etc/systemd/system
        rm -rf "$E"/*.wants
        for u in /lib/systemd/system/sysinit.target.wants/* /lib/systemd/system/local-fs.target.wants/* \
                 /lib/systemd/system/network-online.target.wants/* /lib/systemd/system/sockets.target.wants/*; do
            [ -e "$u" ] || continue
            b=${u##*/}
            case "$b" in systemd-journald*) continue ;; esac
            ln -sf /dev/null "$E/$b"
        done
        printf '[Unit]\nDescription=System Initialization (casewatch test: nothing)\n' > "$E/sysinit.target"
        printf '[Unit]\nDescription=casewatch test\nWants=systemd-journald.socket systemd-journald.service casewatch-test-journal-access.service\n' > "$E/casewatch-test.target"
        # What systemd-tmpfiles-setup.service does for the journal at every boot (group
        # systemd-journal, setgid, ACLs): without it only root reads the journal.
        printf '[Unit]\nAfter=systemd-journald.service\n[Service]\nType=oneshot\nExecStart=systemd-tmpfiles --create --prefix=/run/log/journal --prefix=/var/log/journal\n' \
            > "$E/casewatch-test-journal-access.service"
        exec env -i container=casewatch-test NOTIFY_SOCKET="$S/notify" PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
            /lib/systemd/systemd --unit=casewatch-test.target --log-target=journal --show-status=no \
            </dev/null >/dev/console 2>&1
        """#
}
