/**
 * The hooks every per-target cloud suite needs, written once: the target
 * (server) starts once per suite; each test gets a fresh temporary HOME and
 * config (`env`) and its own prefix (`settings`); after each test what it
 * stored is nuked and the clients it opened are closed.
 *
 * @example
 *   describe.each(targets())("thing on %s", (_label, start) => {
 *     const s = useTargetSession(start);
 *     it("...", async () => {
 *       const c = await CloudData.open({ configFile: s.env.configFile, ...s.settings });
 *       s.opened.push(c);
 *     });
 *   });
 */
import { afterAll, afterEach, beforeAll, beforeEach } from "vitest";
import type { CloudData } from "../../src/cloud/cloudData.js";
import type { CloudTarget, TargetSettings } from "./s3servers.js";
import { makeTempEnv, type TempEnv } from "./tempEnv.js";

export interface TargetSession {
  /** the running target (set in beforeAll) */
  readonly target: CloudTarget;
  /** this test's sandbox (set in beforeEach) */
  readonly env: TempEnv;
  /** this test's bucket and prefix on the target (set in beforeEach; a test may switch to a fresh bucket) */
  settings: TargetSettings;
  /** clients this test opened: the last one nukes the prefix afterwards, all are closed */
  readonly opened: CloudData[];
}

export interface TargetSessionHooks {
  /** before the target starts (e.g. patching the server's code) */
  beforeStart?(): void;
  /** once the target runs (e.g. naming the suite's figures after it) */
  afterStart?(target: CloudTarget): void;
  /** before the target stops (e.g. writing figures) */
  beforeStop?(): void;
}

/** Registers the suite's hooks; read the session's fields inside tests only. */
export function useTargetSession(start: () => Promise<CloudTarget>, hooks: TargetSessionHooks = {}): TargetSession {
  const state: { target?: CloudTarget; env?: TempEnv; settings?: TargetSettings; opened: CloudData[] } = { opened: [] };
  beforeAll(async () => {
    hooks.beforeStart?.();
    state.target = await start();
    hooks.afterStart?.(state.target);
  });
  afterAll(async () => {
    hooks.beforeStop?.();
    await state.target?.stop();
  });
  beforeEach(() => {
    state.env = makeTempEnv();
    state.settings = state.target!.settings();
  });
  afterEach(async () => {
    // Leave nothing behind on a shared server.
    await state.opened.at(-1)?.nuke().catch(() => undefined);
    for (const c of state.opened.splice(0)) c.close();
    state.env?.cleanup();
  });
  return {
    get target() {
      return state.target!;
    },
    get env() {
      return state.env!;
    },
    get settings() {
      return state.settings!;
    },
    set settings(v: TargetSettings) {
      state.settings = v;
    },
    opened: state.opened,
  };
}
