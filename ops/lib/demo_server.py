"""Starts `intentloop serve --demo` for a script (browser test, HTTP benchmark) and reads what its
banner prints: URL, demo credentials and the embedded database's port."""
import os, re, signal, socket, subprocess, time, urllib.request


class DemoServer:
    def __init__(self, intentloop, data_dir, port=0, extra_args=()):
        if not port:
            s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
        os.makedirs(data_dir, exist_ok=True)
        self.data_dir, self.port, self.base = data_dir, port, f"http://127.0.0.1:{port}"
        self.log = open(os.path.join(data_dir, "serve.log"), "w")
        self.process = subprocess.Popen([intentloop, "serve", "--demo", "--data-dir", data_dir, "--port", str(port), *extra_args],
                                        stdout=subprocess.PIPE, stderr=self.log, text=True)
        banner = ""
        while "curl" not in banner:  # the banner's last lines show a curl example
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError(f"intentloop serve exited; see {self.log.name}")
            banner += line
        self.version = re.search(r"serving (\S+) at", banner)[1]
        self.agent_password = re.search(r"demo-agent / (\S+)", banner)[1]
        self.token = re.search(r"API client token \(demo-client\): (\S+)", banner)[1]
        self.pg_port = re.search(r"database: postgres://intentloop@127\.0\.0\.1:(\d+)/", banner)[1]
        for _ in range(100):
            try:
                urllib.request.urlopen(self.base + "/readyz", timeout=2); break
            except Exception:
                time.sleep(0.2)

    def psql(self, sql):
        """Runs SQL on the server's embedded database; returns psql's unaligned output."""
        env = dict(os.environ, PGPASSWORD=open(os.path.join(self.data_dir, "postgres.secret")).read().strip())
        return subprocess.run(["psql", "-h", "127.0.0.1", "-p", self.pg_port, "-U", "intentloop", "-d", "intentloop", "-At", "-f", "-"],
                              input=sql, env=env, capture_output=True, text=True, check=True).stdout.strip()

    def cpu_seconds(self):
        """CPU seconds used so far by the server process and by its PostgreSQL cluster (postmaster,
        its live children, and the exited children it has waited for)."""
        tick = os.sysconf("SC_CLK_TCK")

        def stat(pid):
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return int(fields[1]), [int(x) / tick for x in fields[11:15]]  # ppid; utime, stime, cutime, cstime

        postmaster, children = None, {}
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                args = open(f"/proc/{pid}/cmdline").read().split("\0")
                ppid, times = stat(pid)
            except (OSError, IndexError):
                continue
            if args[-3:-1] == ["-p", self.pg_port] or args[-2:] == ["-p", self.pg_port]:
                postmaster = (int(pid), times)
            children.setdefault(ppid, []).append(times)
        server = sum(stat(self.process.pid)[1][:2])
        pg = sum(postmaster[1]) + sum(sum(t[:2]) for t in children.get(postmaster[0], [])) if postmaster else float("nan")
        return server, pg

    def metric(self, name):
        """One unlabelled sample from /metrics."""
        text = urllib.request.urlopen(self.base + "/metrics", timeout=5).read().decode()
        return float(next(l.split()[-1] for l in text.splitlines() if l.startswith(name + " ")))

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
