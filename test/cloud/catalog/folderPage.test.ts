/**
 * The catalog page of a folder remote (no S3 server needed), in Chromium:
 * written by `cloud catalog` into the remote's bucket folder, served by a
 * static web server (`python3 -m http.server`) and opened from disk. Over
 * HTTP its pull commands read `--from` the server's URL and its raw link
 * fetches the file; from disk it says how to pull from the folder, and its
 * raw link names the file beside it. Typing a Cohort's name hides the
 * other; nothing logs an error.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { hasChromium, openPage, PHONE, screenshot, sharedBrowser } from "../../helpers/browser.js";
import { runCliAsync } from "../../helpers/cliAsync.js";
import { configYaml } from "../../helpers/s3servers.js";
import { startStaticServer, type StaticServer } from "../../helpers/staticServer.js";
import { makeTempEnv, type TempEnv } from "../../helpers/tempEnv.js";
import { expectSelfContained, pushFixture, RAW_FASTQ, SHARED_YAML, visibleTexts } from "./fixture.js";

describe.skipIf(!hasChromium() || !fs.existsSync(SHARED_YAML))("the catalog page of a folder remote, in Chromium (needs ../shared/data/fastq)", () => {
  let env: TempEnv;
  let remote: string;
  const browser = sharedBrowser();
  let web: StaticServer | undefined;

  beforeEach(() => {
    env = makeTempEnv();
    remote = path.join(env.root, "remote");
    fs.writeFileSync(env.configFile, configYaml({ endpoint: `file://${remote}`, bucket: "lab", prefix: "", region: "us-east-1" }, env.basedir));
  });
  afterEach(async () => {
    await web?.stop();
    web = undefined;
    env.cleanup();
  });

  it("served over HTTP by a static server and opened from disk: both Cohorts, search, pull commands and the raw link fit where it was opened", async () => {
    await pushFixture(env.configFile);
    const made = await runCliAsync(["cloud", "catalog"], { env: env.env });
    expect(made.status, made.stderr).toBe(0);
    const bucketDir = path.join(remote, "lab");
    const file = path.join(bucketDir, "index.html");
    expect(made.stdout).toBe(`${file}\n`);
    expectSelfContained(fs.readFileSync(file, "utf8"));

    web = await startStaticServer(bucketDir);
    const { page, errors } = await openPage(browser(), PHONE);
    await page.goto(`${web.url}/index.html#Cohort.RootsAndLeaves:v1`);
    const v1 = page.locator('[id="Cohort.RootsAndLeaves:v1"]');
    await expect.poll(() => v1.locator("tbody th").allTextContents()).toEqual(["Sample1", "Sample2"]);
    expect(await v1.locator(".cmd code").textContent()).toBe(`minus80 cloud pull Cohort RootsAndLeaves --tag v1 --from ${web.url}`);
    const href = (await page.locator("div.raw a").getAttribute("href"))!;
    expect(await page.evaluate(async (h) => (await fetch(h)).text(), href)).toBe(fs.readFileSync(RAW_FASTQ, "utf8"));
    await page.locator("input[type=search]").fill("testcohort");
    await expect.poll(() => visibleTexts(page, ".ds-name")).toEqual(["TestCohort"]);
    expect(await page.locator("#type-Cohort").textContent()).toBe("Cohort (1 of 2 datasets match)");
    expect(await page.locator("#source").textContent()).toBe(web.url);
    await screenshot(page, "catalog", "folder-http-phone-search");
    expect(errors).toEqual([]);
    await page.close();

    const local = await openPage(browser());
    await local.page.goto(`${pathToFileURL(file).href}#Cohort.TestCohort:v1`);
    const t1 = local.page.locator('[id="Cohort.TestCohort:v1"]');
    await expect.poll(() => t1.locator("tbody th").allTextContents()).toEqual(["10F", "10M"]);
    expect(await t1.locator(".cmd code").textContent()).toBe("minus80 cloud pull Cohort TestCohort --tag v1");
    expect(await local.page.locator("#where-note").textContent()).toContain(`This page was opened from a file (${bucketDir}). To pull from that folder, serve it over HTTP`);
    const rawHref = (await local.page.locator("div.raw a").evaluate((a) => (a as unknown as { href: string }).href)) as string;
    expect(fs.readFileSync(fileURLToPath(rawHref), "utf8")).toBe(fs.readFileSync(RAW_FASTQ, "utf8"));
    await screenshot(local.page, "catalog", "folder-file-laptop");
    expect(local.errors).toEqual([]);
    await local.page.close();
  });
});
