/**
 * A real browser for the catalog page's tests: Debian's Chromium
 * (`/usr/bin/chromium`, apt-get install chromium) driven by playwright-core,
 * whose own browser download cannot be reached here. Every console error
 * and uncaught page error is collected, so a test can assert there were none.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll } from "vitest";

export const CHROMIUM = process.env.MINUS80_TEST_CHROMIUM ?? "/usr/bin/chromium";
/** Screenshots land here (gitignored): look at them. */
export const ARTIFACTS = fileURLToPath(new URL("../../test-artifacts/", import.meta.url));
/** A laptop's and a phone's viewport. */
export const LAPTOP = { width: 1280, height: 860 };
export const PHONE = { width: 390, height: 844 };

export function hasChromium(): boolean {
  return fs.existsSync(CHROMIUM);
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
}

/** One browser for a suite: launched before its tests, closed after them. @example const browser = sharedBrowser(); ... await openPage(browser()) */
export function sharedBrowser(): () => Browser {
  let browser: Browser | undefined;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });
  return () => browser!;
}

export interface WatchedPage {
  page: Page;
  /** console errors and uncaught exceptions, as text */
  errors: string[];
}

/** A new page at `viewport`, its errors collected. */
export async function openPage(browser: Browser, viewport = LAPTOP): Promise<WatchedPage> {
  const page = await browser.newPage({ viewport });
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  return { page, errors };
}

/** Saves a full-page screenshot as test-artifacts/<folder>/<name>.png; returns its path. */
export async function screenshot(page: Page, folder: string, name: string): Promise<string> {
  const file = path.join(ARTIFACTS, folder, `${name}.png`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
