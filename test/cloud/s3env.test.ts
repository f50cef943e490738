/**
 * The cloud contract on the S3 endpoint given by MINUS80_TEST_S3_ENDPOINT,
 * MINUS80_TEST_S3_ACCESS_KEY and MINUS80_TEST_S3_SECRET_KEY (CI: Ceph RGW
 * from ../shared/tools/ceph-s3.sh). Without them this target is reported as
 * NOT RUN (a skipped test saying so), never as passed.
 */
import { describe, it } from "vitest";
import { cloudContract } from "./contract.js";
import { ENV_TARGET_HELP, envTarget } from "../helpers/s3servers.js";

const target = envTarget();
if (target) {
  cloudContract(target.name, async () => target);
} else {
  console.warn(`cloud contract on an S3 endpoint from the environment: NOT RUN; ${ENV_TARGET_HELP}`);
  describe("cloud contract on an S3 endpoint from the environment", () => {
    it.skip(`NOT RUN: no S3 endpoint given; ${ENV_TARGET_HELP}`, () => {});
  });
}
