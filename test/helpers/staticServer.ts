/**
 * A static web server (`python3 -m http.server`) over a folder, for the
 * read-only `--from <URL>` tests: it serves files with GET and HEAD only,
 * like GitHub Pages or a lab's web server, and logs every request, so a
 * test can assert which methods a reader used.
 *
 * @example
 *   const web = await startStaticServer("/tmp/remote/lab");
 *   web.url            // "http://127.0.0.1:40123"
 *   web.methods()      // ["GET", "HEAD", ...]
 *   await web.stop();
 */
import { spawn } from "node:child_process";

export interface StaticServer {
  url: string;
  /** the HTTP method of every request served so far, in order */
  methods(): string[];
  stop(): Promise<void>;
}

export function startStaticServer(dir: string): Promise<StaticServer> {
  const child = spawn("python3", ["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", dir], { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => (log += d));
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`python3 -m http.server did not start: ${out}${log}`)), 15_000);
    child.on("error", reject);
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      const m = /port (\d+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      resolve({
        url: `http://127.0.0.1:${m[1]}`,
        // A request line in the log: `127.0.0.1 - - [date] "GET /path HTTP/1.1" 200 -`
        methods: () => [...log.matchAll(/"([A-Z]+) \S+ HTTP\/[\d.]+"/g)].map((x) => x[1]!),
        stop: () =>
          new Promise<void>((done) => {
            child.once("close", () => done());
            child.kill("SIGTERM");
          }),
      });
    });
  });
}
