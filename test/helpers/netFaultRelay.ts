/**
 * A TCP relay on 127.0.0.1 in front of a real server, for injecting network
 * faults the tests control: after a chosen number of bytes in one
 * direction it stalls (stops forwarding, keeps the socket open) or resets
 * the connection.
 *
 * @example
 *   const proxy = await startFaultRelay("127.0.0.1", 7480);
 *   proxy.plan = [{ direction: "down", after: 1 << 20, action: "stall" }];   // the next such fault, once
 */
import net from "node:net";

export interface Fault {
  /** "down": server to client (responses); "up": client to server (requests) */
  direction: "down" | "up";
  /** bytes relayed on the connection in that direction before the fault */
  after: number;
  action: "stall" | "reset";
  /** apply to every connection (default: once, to the first connection that reaches it) */
  always?: boolean;
}

export interface FaultRelay {
  endpoint: string;
  /** faults still to inject */
  plan: Fault[];
  /** faults injected so far */
  injected: number;
  connections: number;
  stop(): Promise<void>;
}

export async function startFaultRelay(host: string, port: number): Promise<FaultRelay> {
  const sockets = new Set<net.Socket>();
  const proxy: FaultRelay = {
    endpoint: "",
    plan: [],
    injected: 0,
    connections: 0,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const server = net.createServer((client) => {
    proxy.connections++;
    const upstream = net.connect(port, host);
    sockets.add(client).add(upstream);
    const relay = (from: net.Socket, to: net.Socket, direction: Fault["direction"]) => {
      let count = 0;
      let stalled = false;
      from.on("data", (chunk: Buffer) => {
        if (stalled) return;
        const fault = proxy.plan.find((f) => f.direction === direction && count + chunk.length > f.after);
        if (fault) {
          if (!fault.always) proxy.plan.splice(proxy.plan.indexOf(fault), 1);
          proxy.injected++;
          to.write(chunk.subarray(0, Math.max(0, fault.after - count)));
          if (fault.action === "reset") {
            client.resetAndDestroy();
            upstream.destroy();
          } else {
            stalled = true; // swallow everything from now on, keep the sockets open
          }
          return;
        }
        count += chunk.length;
        to.write(chunk);
      });
    };
    relay(client, upstream, "up");
    relay(upstream, client, "down");
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", close).on("close", close);
    upstream.on("error", close).on("close", close);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  proxy.endpoint = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return proxy;
}
