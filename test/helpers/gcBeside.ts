/**
 * A backend whose first manifest write waits until `gcer` has run a gc:
 * the moment a push commits is when a racing gc is most dangerous.
 *
 * @example
 *   const hook = gcBeforeManifest(a.backend, gcer);
 *   const pusher = await open("a", { backend: hook.backend });
 *   await pusher.push(...);  hook.result()   // what that gc did
 */
import type { CloudData } from "../../src/cloud/cloudData.js";

type GcResult = Awaited<ReturnType<CloudData["gc"]>>;

export function gcBeforeManifest(inner: CloudData["backend"], gcer: CloudData): { backend: CloudData["backend"]; result(): GcResult | undefined } {
  let gcResult: GcResult | undefined;
  const hooked = Object.create(inner) as typeof inner;
  hooked.put = async (key, body, opts) => {
    if (key.startsWith("datasets/") && !gcResult) gcResult = await gcer.gc();
    return inner.put(key, body, opts);
  };
  return { backend: hooked, result: () => gcResult };
}
