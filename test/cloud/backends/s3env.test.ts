/**
 * The backend contract on the S3 endpoint given by MINUS80_TEST_S3_ENDPOINT
 * (+ _ACCESS_KEY, _SECRET_KEY; CI: Ceph RGW). Without them this target is
 * reported as NOT RUN (a skipped test saying so), never as passed.
 */
import { describe, it } from "vitest";
import { ENV_TARGET_HELP, envTarget } from "../../helpers/s3servers.js";
import { backendContract } from "./backendContract.js";

const target = envTarget();
if (target) {
  backendContract(target.name, async () => target);
} else {
  describe("backend contract on an S3 endpoint from the environment", () => {
    it.skip(`NOT RUN: no S3 endpoint given; ${ENV_TARGET_HELP}`, () => {});
  });
}
